-- models/markov: Markov chain removal effect, as one aggregate and as a
-- two-step form (transition rows summed by GROUP BY, then a solver).
--
-- Path rows: path text[] (channels in time order), conversions and nulls
-- (journeys of that path that converted / did not; fractional allowed),
-- value (total value of the converting journeys), order (states are the
-- sliding windows of `order` channels; a path shorter than the order is one
-- state made of the whole path).  Each row adds (start)->first state, one
-- transition per consecutive pair of states, last state->(conversion) with
-- weight conversions and the value, and last state->(null) with weight
-- nulls; every other transition has weight conversions + nulls.

CREATE FUNCTION attribution._markov_transfn(internal, text[], float8)
RETURNS internal AS 'MODULE_PATHNAME', 'markov_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._markov_transfn(internal, text[], float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'markov_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._markov_transfn(internal, text[], float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'markov_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._markov_transfn(internal, text[], float8, float8, float8, int)
RETURNS internal AS 'MODULE_PATHNAME', 'markov_transfn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._markov_combinefn(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'markov_combinefn'
LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION attribution._markov_serialfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'markov_serialfn'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION attribution._markov_deserialfn(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'markov_deserialfn'
LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION attribution._markov_finalfn(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'markov_finalfn'
LANGUAGE C PARALLEL SAFE;

-- Aggregates take no defaults: one per arity, all the same aggregate.
CREATE AGGREGATE attribution.markov(path text[], conversions float8) (
    SFUNC = attribution._markov_transfn, STYPE = internal,
    COMBINEFUNC = attribution._markov_combinefn,
    SERIALFUNC = attribution._markov_serialfn, DESERIALFUNC = attribution._markov_deserialfn,
    FINALFUNC = attribution._markov_finalfn, PARALLEL = SAFE);
CREATE AGGREGATE attribution.markov(path text[], conversions float8, nulls float8) (
    SFUNC = attribution._markov_transfn, STYPE = internal,
    COMBINEFUNC = attribution._markov_combinefn,
    SERIALFUNC = attribution._markov_serialfn, DESERIALFUNC = attribution._markov_deserialfn,
    FINALFUNC = attribution._markov_finalfn, PARALLEL = SAFE);
CREATE AGGREGATE attribution.markov(path text[], conversions float8, nulls float8, value float8) (
    SFUNC = attribution._markov_transfn, STYPE = internal,
    COMBINEFUNC = attribution._markov_combinefn,
    SERIALFUNC = attribution._markov_serialfn, DESERIALFUNC = attribution._markov_deserialfn,
    FINALFUNC = attribution._markov_finalfn, PARALLEL = SAFE);
CREATE AGGREGATE attribution.markov(path text[], conversions float8, nulls float8, value float8, "order" int) (
    SFUNC = attribution._markov_transfn, STYPE = internal,
    COMBINEFUNC = attribution._markov_combinefn,
    SERIALFUNC = attribution._markov_serialfn, DESERIALFUNC = attribution._markov_deserialfn,
    FINALFUNC = attribution._markov_finalfn, PARALLEL = SAFE);
COMMENT ON AGGREGATE attribution.markov(text[], float8, float8, float8, int) IS
    'Markov chain of attribution paths (transition counts, exact sums): pass the result to markov_credits or markov_summary';

CREATE FUNCTION attribution.markov_credits(result bytea, options jsonb DEFAULT '{}')
RETURNS TABLE (channel text, removal_effect float8, conversions float8, value float8)
AS 'MODULE_PATHNAME', 'markov_credits'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION attribution.markov_credits(bytea, jsonb) IS
    'Exact removal effects of a markov() result: RE(c) = 1 - P(conv without c)/P(conv), conversions and value shared in proportion. Options: ignore_nulls, collapse_self_loops';

CREATE FUNCTION attribution.markov_summary(result bytea, options jsonb DEFAULT '{}',
    OUT p_conversion float8, OUT expected_value float8, OUT conversions float8,
    OUT nulls float8, OUT value float8, OUT "order" int, OUT channels int,
    OUT states int, OUT transitions int)
AS 'MODULE_PATHNAME', 'markov_summary'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.markov_summary(bytea, jsonb) IS
    'The solved chain of a markov() result: P(conversion) from (start), expected value per journey, totals and size';

CREATE FUNCTION attribution.markov_transitions(path text[], conversions float8, nulls float8 DEFAULT 0,
    path_value float8 DEFAULT 0, "order" int DEFAULT 1)
RETURNS TABLE (from_state text, to_state text, weight float8, value float8, conversion_weight float8)
AS 'MODULE_PATHNAME', 'markov_transitions'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 6;
COMMENT ON FUNCTION attribution.markov_transitions(text[], float8, float8, float8, int) IS
    'Two-step Markov, first step: the transitions of one path row (states are channels joined by ">", with "\" escaping; specials (start), (conversion), (null)); sum them with GROUP BY from_state, to_state';

CREATE FUNCTION attribution.markov_solve(from_state text[], to_state text[], weight float8[],
    transition_value float8[] DEFAULT NULL, options jsonb DEFAULT '{}',
    conversion_weight float8[] DEFAULT NULL)
RETURNS TABLE (channel text, removal_effect float8, conversions float8, value float8)
AS 'MODULE_PATHNAME', 'markov_solve'
LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 20;
COMMENT ON FUNCTION attribution.markov_solve(text[], text[], float8[], float8[], jsonb, float8[]) IS
    'Two-step Markov, second step: removal effects from summed transition rows, the same numbers as markov_credits';

GRANT EXECUTE ON FUNCTION
    attribution._markov_transfn(internal, text[], float8),
    attribution._markov_transfn(internal, text[], float8, float8),
    attribution._markov_transfn(internal, text[], float8, float8, float8),
    attribution._markov_transfn(internal, text[], float8, float8, float8, int),
    attribution._markov_combinefn(internal, internal),
    attribution._markov_serialfn(internal),
    attribution._markov_deserialfn(bytea, internal),
    attribution._markov_finalfn(internal),
    attribution.markov(text[], float8),
    attribution.markov(text[], float8, float8),
    attribution.markov(text[], float8, float8, float8),
    attribution.markov(text[], float8, float8, float8, int),
    attribution.markov_credits(bytea, jsonb),
    attribution.markov_summary(bytea, jsonb),
    attribution.markov_transitions(text[], float8, float8, float8, int),
    attribution.markov_solve(text[], text[], float8[], float8[], jsonb, float8[])
TO attribution_analyst, attribution_admin;
