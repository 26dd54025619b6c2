-- capture/utm: the campaign tagging convention, a URL builder that enforces
-- it, and the view of captured campaigns that break it.

CREATE TABLE attribution.utm_sources (
    source  text PRIMARY KEY CHECK (source = lower(btrim(source)) AND source <> ''),
    note    text
);
COMMENT ON TABLE attribution.utm_sources IS 'UTM convention: allowed utm_source values (an empty table allows any)';

CREATE TABLE attribution.utm_mediums (
    medium                  text PRIMARY KEY CHECK (medium = lower(btrim(medium)) AND medium <> ''),
    required_fields         text[] NOT NULL DEFAULT '{}'
        CHECK (required_fields <@ ARRAY['campaign', 'content', 'term', 'id']),
    content_is_referrer_id  boolean NOT NULL DEFAULT false,
    note                    text
);
COMMENT ON TABLE attribution.utm_mediums IS 'UTM convention: the medium vocabulary and the fields each medium requires';
COMMENT ON COLUMN attribution.utm_mediums.content_is_referrer_id IS 'utm_content carries the referrer''s id (the referral medium)';

CREATE TABLE attribution.utm_settings (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    campaign_pattern    text NOT NULL CHECK (('' ~ campaign_pattern) IS NOT NULL),
    referrer_id_pattern text NOT NULL CHECK (('' ~ referrer_id_pattern) IS NOT NULL)
);
COMMENT ON TABLE attribution.utm_settings IS 'UTM convention: the campaign name pattern and the referrer id pattern (one row)';

INSERT INTO attribution.utm_settings (campaign_pattern, referrer_id_pattern)
VALUES ('^[a-z0-9]+([_-][a-z0-9]+)*$', '^[A-Za-z0-9_-]{1,64}$');

INSERT INTO attribution.utm_sources (source) VALUES
    ('google'), ('bing'), ('facebook'), ('instagram'), ('linkedin'), ('tiktok'),
    ('twitter'), ('youtube'), ('reddit'), ('newsletter'), ('partner'), ('referral');

INSERT INTO attribution.utm_mediums (medium, required_fields, content_is_referrer_id, note) VALUES
    ('cpc',         '{campaign}', false, 'paid search and paid social clicks'),
    ('paid_social', '{campaign}', false, 'paid social placements'),
    ('display',     '{campaign}', false, 'display and banner ads'),
    ('video',       '{campaign}', false, 'video ads'),
    ('email',       '{campaign}', false, 'e-mail campaigns and newsletters'),
    ('sms',         '{campaign}', false, 'text messages'),
    ('push',        '{campaign}', false, 'push notifications'),
    ('social',      '{}',         false, 'organic social posts'),
    ('organic',     '{}',         false, 'organic search'),
    ('affiliate',   '{content}',  false, 'affiliate partners; utm_content names the partner'),
    ('referral',    '{content}',  true,  'referral program; utm_content is the referrer id');

-- The rules a set of UTM values breaks: one row per broken rule, with the
-- rule's name and a message that says what to change.  raw, when given, is
-- the utm_raw of a touch (values as received) and adds the lower-case rule.
CREATE FUNCTION attribution._utm_violations(source text, medium text, campaign text,
                                            content text, term text, raw jsonb DEFAULT NULL)
RETURNS TABLE (rule text, message text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    m attribution.utm_mediums;
    s attribution.utm_settings;
    f text;
    v text;
BEGIN
    SELECT * INTO s FROM attribution.utm_settings;
    IF source IS NULL THEN
        rule := 'source_required'; message := 'utm_source is missing'; RETURN NEXT;
    ELSIF EXISTS (SELECT 1 FROM attribution.utm_sources)
          AND NOT EXISTS (SELECT 1 FROM attribution.utm_sources us WHERE us.source = _utm_violations.source) THEN
        rule := 'source_allowed';
        message := format('utm_source "%s" is not in attribution.utm_sources', source);
        RETURN NEXT;
    END IF;
    IF medium IS NULL THEN
        rule := 'medium_required'; message := 'utm_medium is missing'; RETURN NEXT;
    ELSE
        SELECT * INTO m FROM attribution.utm_mediums um WHERE um.medium = _utm_violations.medium;
        IF NOT FOUND THEN
            rule := 'medium_vocabulary';
            message := format('utm_medium "%s" is not in attribution.utm_mediums', medium);
            RETURN NEXT;
        ELSE
            FOREACH f IN ARRAY m.required_fields LOOP
                v := CASE f WHEN 'campaign' THEN campaign WHEN 'content' THEN content
                            WHEN 'term' THEN term END;
                IF f <> 'id' AND v IS NULL THEN
                    rule := 'medium_requires_' || f;
                    message := format('utm_medium "%s" requires utm_%s', medium, f);
                    RETURN NEXT;
                END IF;
            END LOOP;
            IF m.content_is_referrer_id AND content IS NOT NULL
               AND content !~ s.referrer_id_pattern THEN
                rule := 'referrer_id_pattern';
                message := format('utm_content "%s" is not a referrer id matching %s',
                                  content, s.referrer_id_pattern);
                RETURN NEXT;
            END IF;
        END IF;
    END IF;
    IF campaign IS NOT NULL AND campaign !~ s.campaign_pattern THEN
        rule := 'campaign_pattern';
        message := format('utm_campaign "%s" does not match %s', campaign, s.campaign_pattern);
        RETURN NEXT;
    END IF;
    IF raw IS NOT NULL AND EXISTS (
           SELECT 1 FROM jsonb_each_text(raw) e
            WHERE e.key IN ('utm_source', 'utm_medium', 'utm_campaign')
              AND e.value IS DISTINCT FROM lower(btrim(e.value))) THEN
        rule := 'lower_case';
        message := 'utm_source, utm_medium and utm_campaign must be lower-case without surrounding spaces';
        RETURN NEXT;
    END IF;
END
$fn$;

CREATE FUNCTION attribution._append_query(base_url text, names text[], vals text[])
RETURNS text
AS 'MODULE_PATHNAME', 'attr_append_query'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

CREATE FUNCTION attribution.build_utm_url(base_url text, source text, medium text, campaign text,
                                          content text DEFAULT NULL, term text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v record;
    given jsonb := jsonb_build_object('utm_source', source, 'utm_medium', medium,
                                      'utm_campaign', campaign);
BEGIN
    IF base_url IS NULL THEN
        RAISE EXCEPTION 'base_url must not be null' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO v
      FROM attribution._utm_violations(nullif(source, ''), nullif(medium, ''), nullif(campaign, ''),
                                       nullif(content, ''), nullif(term, ''), given)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'campaign url breaks the UTM convention rule "%": %', v.rule, v.message
            USING ERRCODE = '22023',
                  HINT = 'See attribution.utm_sources, attribution.utm_mediums and attribution.utm_settings.';
    END IF;
    RETURN attribution._append_query(base_url,
        ARRAY['utm_source', 'utm_medium', 'utm_campaign', 'utm_content', 'utm_term'],
        ARRAY[nullif(source, ''), nullif(medium, ''), nullif(campaign, ''),
              nullif(content, ''), nullif(term, '')]);
END
$fn$;
COMMENT ON FUNCTION attribution.build_utm_url(text, text, text, text, text, text) IS 'Build a campaign URL with encoded UTM parameters; refuses values that break the UTM convention';

-- Captured campaigns that break the convention.  The touches themselves
-- are kept as they came; this only reports.
CREATE VIEW attribution.utm_violations AS
SELECT t.utm_source, t.utm_medium, t.utm_campaign, t.utm_content,
       v.rule, v.message,
       count(*) AS touches,
       min(t.occurred_at) AS first_seen,
       max(t.occurred_at) AS last_seen
  FROM attribution.touchpoints t
 CROSS JOIN LATERAL attribution._utm_violations(t.utm_source, t.utm_medium, t.utm_campaign,
                                                t.utm_content, t.utm_term, t.utm_raw) v
 WHERE t.utm_raw IS NOT NULL
 GROUP BY t.utm_source, t.utm_medium, t.utm_campaign, t.utm_content, v.rule, v.message;
COMMENT ON VIEW attribution.utm_violations IS 'Captured campaigns that break the UTM convention, with touch counts and first and last seen';

GRANT EXECUTE ON FUNCTION attribution.build_utm_url(text, text, text, text, text, text),
                          attribution._utm_violations(text, text, text, text, text, jsonb),
                          attribution._append_query(text, text[], text[])
   TO attribution_app, attribution_analyst, attribution_admin;
GRANT SELECT ON attribution.utm_violations, attribution.utm_sources, attribution.utm_mediums,
                attribution.utm_settings TO attribution_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON attribution.utm_sources, attribution.utm_mediums,
                attribution.utm_settings TO attribution_admin;
