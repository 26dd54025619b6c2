-- models/shapley: Shapley value attribution under explicit variant names
-- (zhao_simplified, zhao_ordered, exact, fractribution), as one aggregate and
-- as a two-step form (path or channel-set counts by GROUP BY, then a C
-- function).  The variants are defined in src/models/shapley_solve.c.

CREATE FUNCTION attribution._shapley_transfn(internal, text[], float8)
RETURNS internal AS 'MODULE_PATHNAME', 'shapley_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._shapley_transfn(internal, text[], float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'shapley_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._shapley_transfn(internal, text[], float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'shapley_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._shapley_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'shapley_combinefn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._shapley_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'shapley_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION attribution._shapley_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'shapley_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION attribution._shapley_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'shapley_finalfn'
LANGUAGE C PARALLEL SAFE;

CREATE AGGREGATE attribution.shapley(path text[], conversions float8) (
    SFUNC = attribution._shapley_transfn, STYPE = internal,
    COMBINEFUNC = attribution._shapley_combinefn,
    SERIALFUNC = attribution._shapley_serialfn, DESERIALFUNC = attribution._shapley_deserialfn,
    FINALFUNC = attribution._shapley_finalfn, PARALLEL = SAFE);
CREATE AGGREGATE attribution.shapley(path text[], conversions float8, nulls float8) (
    SFUNC = attribution._shapley_transfn, STYPE = internal,
    COMBINEFUNC = attribution._shapley_combinefn,
    SERIALFUNC = attribution._shapley_serialfn, DESERIALFUNC = attribution._shapley_deserialfn,
    FINALFUNC = attribution._shapley_finalfn, PARALLEL = SAFE);
CREATE AGGREGATE attribution.shapley(path text[], conversions float8, nulls float8, value float8) (
    SFUNC = attribution._shapley_transfn, STYPE = internal,
    COMBINEFUNC = attribution._shapley_combinefn,
    SERIALFUNC = attribution._shapley_serialfn, DESERIALFUNC = attribution._shapley_deserialfn,
    FINALFUNC = attribution._shapley_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE attribution.shapley(text[], float8, float8, float8) IS
    'Conversions, nulls and value per distinct path (exact sums): pass the result to shapley_credits with a variant';

CREATE FUNCTION attribution.shapley_credits(result bytea, variant text, options jsonb DEFAULT '{}')
RETURNS TABLE (channel text, conversions float8, value float8, "position" int)
AS 'MODULE_PATHNAME', 'shapley_credits'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION attribution.shapley_credits(bytea, text, jsonb) IS
    'Shapley credits of a shapley() result: variant zhao_simplified, zhao_ordered (rows per position), exact (option characteristic: subset_sum or conversion_rate, at most 20 channels) or fractribution';

CREATE FUNCTION attribution.shapley_key(path text[], kind text DEFAULT 'set')
RETURNS text
AS 'MODULE_PATHNAME', 'shapley_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.shapley_key(text[], text) IS
    'Two-step Shapley, first step: the GROUP BY key of a path: set (zhao_simplified, exact), ordered (zhao_ordered) or path (fractribution); channels joined by ">" with "\" escaping';

CREATE FUNCTION attribution.shapley_solve(paths text[], path_conversions float8[],
    path_nulls float8[] DEFAULT NULL, path_values float8[] DEFAULT NULL,
    variant text DEFAULT 'zhao_simplified', options jsonb DEFAULT '{}')
RETURNS TABLE (channel text, conversions float8, value float8, "position" int)
AS 'MODULE_PATHNAME', 'shapley_solve'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION attribution.shapley_solve(text[], float8[], float8[], float8[], text, jsonb) IS
    'Two-step Shapley, second step: credits from keys summed by GROUP BY, the same numbers as shapley_credits';

GRANT EXECUTE ON FUNCTION
    attribution._shapley_transfn(internal, text[], float8),
    attribution._shapley_transfn(internal, text[], float8, float8),
    attribution._shapley_transfn(internal, text[], float8, float8, float8),
    attribution._shapley_combinefn(internal, internal),
    attribution._shapley_serialfn(internal),
    attribution._shapley_deserialfn(bytea, internal),
    attribution._shapley_finalfn(internal),
    attribution.shapley(text[], float8),
    attribution.shapley(text[], float8, float8),
    attribution.shapley(text[], float8, float8, float8),
    attribution.shapley_credits(bytea, text, jsonb),
    attribution.shapley_key(text[], text),
    attribution.shapley_solve(text[], float8[], float8[], float8[], text, jsonb)
TO attribution_analyst, attribution_admin;
