-- models/rules: the rule-based models and the path transforms, as pure
-- functions analysts call on paths of their own.

CREATE FUNCTION attribution.path_weights(model text, channels text[], touched_at timestamptz[],
                                         converted_at timestamptz, options jsonb DEFAULT '{}')
RETURNS float8[]
AS 'MODULE_PATHNAME', 'attr_path_weights'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.path_weights(text, text[], timestamptz[], timestamptz, jsonb) IS
'Weights of one rule-based model over a path, one per touch in input order (0 outside the window).
Models: first_touch, last_touch, first_non_direct, last_non_direct (Direct touches skipped; an all-Direct
path credits its first / last Direct touch), linear, position_based (1 touch: 1; 2: 0.5 each; more:
first_share and last_share to the ends, the rest evenly to the middle), time_decay (2^(-age/half_life),
age from converted_at, normalised).  Touches are read oldest first whatever their input order (ties in
input order); touches after converted_at or older than lookback_days get 0, and with last_n only the last
n remaining touches count.  Options (jsonb): lookback_days (default 90; null: no window), last_n (default
all), half_life_days (7), first_share (0.4), last_share (0.4), direct_channel (''Direct'').';

CREATE FUNCTION attribution.path_transform(path text[], transform text, arg text DEFAULT NULL)
RETURNS text[]
AS 'MODULE_PATHNAME', 'attr_path_transform'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION attribution.path_transform(text[], text, text) IS
'One path transform (fractribution semantics); nest calls to chain them.  unique: the path as it is;
exposure: consecutive repeats collapsed (a>a>b>a -> a>b>a); first: first occurrence of each channel
(a>b); frequency: first occurrence of each channel written with its number of touches, ''a(3)'' (see
path_frequency for the same as rows); trim_long_path, arg n: the last n touches (0: the whole path); remove_if_not_all, arg
channel: every touch of the channel removed unless the path is only that channel;
remove_if_last_and_not_all, arg channel: the trailing run of the channel removed unless the path is only
that channel.  NULL path or transform gives NULL; an empty path stays empty.';

CREATE FUNCTION attribution.path_transforms(path text[], steps text[])
RETURNS text[]
AS 'MODULE_PATHNAME', 'attr_path_transforms'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION attribution.path_transforms(text[], text[]) IS
'Path transforms applied in order, each step ''name'' or ''name(argument)'', for example
ARRAY[''remove_if_not_all(Direct)'', ''exposure'', ''trim_long_path(4)'']; see path_transform';

CREATE FUNCTION attribution.path_frequency(path text[])
RETURNS TABLE (channel text, touches int)
AS 'MODULE_PATHNAME', 'attr_path_frequency'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 8;
COMMENT ON FUNCTION attribution.path_frequency(text[]) IS
'The frequency transform as rows: each distinct channel of the path once, in order of first occurrence,
with its number of touches';

-- One function per transform, for readable chains:
--   attribution.path_exposure(attribution.path_remove_if_not_all(path, 'Direct'))
CREATE FUNCTION attribution.path_unique(path text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN attribution.path_transform(path, 'unique');
CREATE FUNCTION attribution.path_exposure(path text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN attribution.path_transform(path, 'exposure');
CREATE FUNCTION attribution.path_first(path text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN attribution.path_transform(path, 'first');
CREATE FUNCTION attribution.path_trim_long_path(path text[], n int) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN attribution.path_transform(path, 'trim_long_path', n::text);
CREATE FUNCTION attribution.path_remove_if_not_all(path text[], channel text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN attribution.path_transform(path, 'remove_if_not_all', channel);
CREATE FUNCTION attribution.path_remove_if_last_and_not_all(path text[], channel text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN attribution.path_transform(path, 'remove_if_last_and_not_all', channel);
COMMENT ON FUNCTION attribution.path_unique(text[]) IS 'The unique transform: the path as it is';
COMMENT ON FUNCTION attribution.path_exposure(text[]) IS 'The exposure transform: consecutive repeats collapsed to one';
COMMENT ON FUNCTION attribution.path_first(text[]) IS 'The first transform: first occurrence of each channel';
COMMENT ON FUNCTION attribution.path_trim_long_path(text[], int) IS 'The trim_long_path transform: the last n touches (0: no trimming)';
COMMENT ON FUNCTION attribution.path_remove_if_not_all(text[], text) IS 'The remove_if_not_all transform: the channel removed unless the path is only that channel';
COMMENT ON FUNCTION attribution.path_remove_if_last_and_not_all(text[], text) IS 'The remove_if_last_and_not_all transform: the trailing run of the channel removed unless the path is only that channel';

GRANT EXECUTE ON FUNCTION attribution.path_weights(text, text[], timestamptz[], timestamptz, jsonb),
                          attribution.path_transform(text[], text, text),
                          attribution.path_transforms(text[], text[]),
                          attribution.path_frequency(text[]),
                          attribution.path_unique(text[]),
                          attribution.path_exposure(text[]),
                          attribution.path_first(text[]),
                          attribution.path_trim_long_path(text[], int),
                          attribution.path_remove_if_not_all(text[], text),
                          attribution.path_remove_if_last_and_not_all(text[], text)
   TO attribution_analyst, attribution_admin;

-- The seven models over touch rows, summed per model and channel.
CREATE FUNCTION attribution._rule_credits_transfn(internal, bigint, text, timestamptz, timestamptz, float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'attr_rule_credits_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION attribution._rule_credits_transfn(internal, bigint, text, timestamptz, timestamptz, float8, jsonb)
RETURNS internal
AS 'MODULE_PATHNAME', 'attr_rule_credits_transfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION attribution._rule_credits_finalfn(internal)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'attr_rule_credits_finalfn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE attribution.rule_credits(conversion bigint, channel text, touched_at timestamptz,
                                          converted_at timestamptz, value float8) (
    SFUNC = attribution._rule_credits_transfn,
    STYPE = internal,
    FINALFUNC = attribution._rule_credits_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE attribution.rule_credits(conversion bigint, channel text, touched_at timestamptz,
                                          converted_at timestamptz, value float8, options jsonb) (
    SFUNC = attribution._rule_credits_transfn,
    STYPE = internal,
    FINALFUNC = attribution._rule_credits_finalfn,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE attribution.rule_credits(bigint, text, timestamptz, timestamptz, float8) IS
'The seven rule-based models over touch rows (one row per conversion and touch; the rows of each conversion
together, conversions in any order, else ORDER BY conversion inside the call), summed per
model and channel: a jsonb array of {model, channel, conversions, value} (conversions: sum of weights;
value: sum of value x weight); a conversion with no touch in the window, or only rows with a NULL channel
or touched_at (a LEFT JOIN), counts as (unattributed); rows with a NULL conversion or converted_at are skipped.
Expand with rule_credit_rows()';
COMMENT ON AGGREGATE attribution.rule_credits(bigint, text, timestamptz, timestamptz, float8, jsonb) IS
'rule_credits with the options of path_weights (read from the first row)';

CREATE FUNCTION attribution.rule_credit_rows(result jsonb)
RETURNS TABLE (model text, channel text, conversions float8, value float8)
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT x.model, x.channel, x.conversions, x.value
      FROM pg_catalog.jsonb_to_recordset(result) AS x (model text, channel text, conversions float8, value float8)
$fn$;
COMMENT ON FUNCTION attribution.rule_credit_rows(jsonb) IS 'The result of rule_credits() as rows: model, channel, conversions, value';

GRANT EXECUTE ON FUNCTION attribution.rule_credits(bigint, text, timestamptz, timestamptz, float8),
                          attribution.rule_credits(bigint, text, timestamptz, timestamptz, float8, jsonb),
                          attribution.rule_credit_rows(jsonb)
   TO attribution_analyst, attribution_admin;
