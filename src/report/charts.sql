-- report/charts: the HTML escape and the two inline-SVG charts the report
-- draws.  Charts take their data as jsonb so that a section builds them with
-- one aggregate query; every bar is a <rect class="bar"> and every point of a
-- line a <circle class="point">, which lets a test count what was drawn.

CREATE FUNCTION attribution._html(value anyelement)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT replace(replace(replace(replace(replace(coalesce(value::text, ''),
           '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
$$;
COMMENT ON FUNCTION attribution._html(anyelement) IS 'The value as text escaped for HTML element content and attribute values; NULL as the empty string';

-- A number as people read it: thousands separated, at most `digits`
-- decimals, no trailing zeros.
CREATE FUNCTION attribution._num(value numeric, digits int DEFAULT 0)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN value IS NULL THEN '–'
                WHEN digits <= 0 THEN to_char(round(value), 'FM999G999G999G999G990')
                ELSE rtrim(rtrim(to_char(round(value, digits),
                     'FM999G999G999G999G990D' || repeat('0', digits)), '0'), '.') END
$$;
COMMENT ON FUNCTION attribution._num(numeric, int) IS 'A number rounded for reading: grouped thousands, at most the given decimals';

-- Horizontal grouped bars: one group per label, one bar per series.
-- data: {"labels": [..], "series": [..], "values": [[per series, per label]],
--        "unit": "%"}.  Bars are drawn for positive values only; the value is
-- written at the bar's end.  Horizontal so long channel names stay readable
-- on a phone.
CREATE FUNCTION attribution._svg_bars(chart text, title text, data jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    labels   text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(data->'labels', '[]')));
    series   text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(data->'series', '[]')));
    unit     text := coalesce(data->>'unit', '');
    nl       int := coalesce(array_length(labels, 1), 0);
    ns       int := coalesce(array_length(series, 1), 0);
    bar_h    constant int := 12;
    gap      constant int := 10;
    left_w   constant int := 150;
    plot_w   constant int := 400;
    top      int := 18 + 16 * ((ns + 2) / 3);
    group_h  int := bar_h * greatest(ns, 1) + gap;
    height   int;
    maxv     float8;
    v        float8;
    w        float8;
    y        int;
    out      text;
    colors   constant text[] := ARRAY['#2f6db3', '#e07b39', '#3a9e5f', '#c23b4e', '#7d5ab5',
                                       '#8c6d31', '#d460a8', '#5b8a8a', '#b5a33a', '#444444',
                                       '#1f9bd1', '#9b1f4f'];
BEGIN
    SELECT max(x::float8) INTO maxv
      FROM jsonb_array_elements(coalesce(data->'values', '[]')) s,
           jsonb_array_elements_text(s) x
     WHERE x IS NOT NULL AND x <> 'null';
    maxv := greatest(coalesce(maxv, 0), 1e-9);
    height := top + nl * group_h + 4;
    out := format('<figure class="chart"><figcaption>%s</figcaption>'
                  '<svg class="chart" data-chart="%s" viewBox="0 0 640 %s" role="img" aria-label="%s">',
                  attribution._html(title), attribution._html(chart), height, attribution._html(title));
    FOR s IN 1 .. ns LOOP
        out := out || format('<rect class="key" x="%s" y="%s" width="10" height="10" fill="%s"/>'
                             '<text x="%s" y="%s" class="legend">%s</text>',
                             ((s - 1) % 3) * 200, ((s - 1) / 3) * 16, colors[1 + (s - 1) % 12],
                             ((s - 1) % 3) * 200 + 14, ((s - 1) / 3) * 16 + 9, attribution._html(series[s]));
    END LOOP;
    FOR l IN 1 .. nl LOOP
        y := top + (l - 1) * group_h;
        out := out || format('<text x="%s" y="%s" class="label" text-anchor="end">%s</text>',
                             left_w - 6, y + group_h / 2, attribution._html(labels[l]));
        FOR s IN 1 .. ns LOOP
            v := nullif(data->'values'->(s - 1)->>(l - 1), 'null')::float8;
            CONTINUE WHEN v IS NULL OR v <= 0;
            w := greatest(v / maxv * plot_w, 1);
            out := out || format('<rect class="bar" data-series="%s" x="%s" y="%s" width="%s" height="%s" fill="%s">'
                                 '<title>%s – %s: %s%s</title></rect>'
                                 '<text x="%s" y="%s" class="value">%s%s</text>',
                                 attribution._html(series[s]), left_w, y + (s - 1) * bar_h,
                                 round(w::numeric, 1), bar_h - 2, colors[1 + (s - 1) % 12],
                                 attribution._html(labels[l]), attribution._html(series[s]),
                                 attribution._num(v::numeric, 1), attribution._html(unit),
                                 round((left_w + w + 3)::numeric, 1), y + (s - 1) * bar_h + bar_h - 3,
                                 attribution._num(v::numeric, 1), attribution._html(unit));
        END LOOP;
    END LOOP;
    RETURN out || '</svg></figure>';
END
$$;
COMMENT ON FUNCTION attribution._svg_bars(text, text, jsonb) IS 'An inline SVG of horizontal grouped bars from {labels, series, values[series][label], unit}';

-- A line chart over ordered labels (time buckets): one line per series,
-- each scaled to its own maximum so revenue and counts share one chart;
-- data: {"labels": [..], "series": [..], "values": [[per series, per label]]}.
CREATE FUNCTION attribution._svg_lines(chart text, title text, data jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    labels   text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(data->'labels', '[]')));
    series   text[] := ARRAY(SELECT jsonb_array_elements_text(coalesce(data->'series', '[]')));
    nl       int := coalesce(array_length(labels, 1), 0);
    ns       int := coalesce(array_length(series, 1), 0);
    left_x   constant int := 40;
    plot_w   constant int := 580;
    top      constant int := 24;
    plot_h   constant int := 180;
    colors   constant text[] := ARRAY['#2f6db3', '#e07b39', '#3a9e5f', '#c23b4e'];
    maxv     float8;
    v        float8;
    x        numeric;
    y        numeric;
    pts      text;
    dots     text;
    out      text;
BEGIN
    out := format('<figure class="chart"><figcaption>%s</figcaption>'
                  '<svg class="chart" data-chart="%s" viewBox="0 0 640 %s" role="img" aria-label="%s">'
                  '<line class="axis" x1="%s" y1="%s" x2="%s" y2="%s"/>',
                  attribution._html(title), attribution._html(chart), top + plot_h + 24,
                  attribution._html(title), left_x, top + plot_h, left_x + plot_w, top + plot_h);
    FOR s IN 1 .. ns LOOP
        SELECT max(e::float8) INTO maxv
          FROM jsonb_array_elements_text(data->'values'->(s - 1)) e WHERE e <> 'null';
        maxv := greatest(coalesce(maxv, 0), 1e-9);
        pts := '';
        dots := '';
        FOR l IN 1 .. nl LOOP
            v := coalesce(nullif(data->'values'->(s - 1)->>(l - 1), 'null')::float8, 0);
            x := round((left_x + CASE WHEN nl = 1 THEN plot_w / 2.0
                                      ELSE (l - 1) * plot_w / (nl - 1.0) END)::numeric, 1);
            y := round((top + plot_h - v / maxv * plot_h)::numeric, 1);
            pts := pts || x || ',' || y || ' ';
            dots := dots || format('<circle class="point" data-series="%s" cx="%s" cy="%s" r="3" fill="%s">'
                                   '<title>%s – %s: %s</title></circle>',
                                   attribution._html(series[s]), x, y, colors[1 + (s - 1) % 4],
                                   attribution._html(labels[l]), attribution._html(series[s]),
                                   attribution._num(v::numeric, 2));
        END LOOP;
        out := out || format('<polyline class="line" fill="none" stroke="%s" stroke-width="2" points="%s"/>%s'
                             '<rect class="key" x="%s" y="2" width="10" height="10" fill="%s"/>'
                             '<text x="%s" y="11" class="legend">%s (max %s)</text>',
                             colors[1 + (s - 1) % 4], rtrim(pts), dots,
                             left_x + (s - 1) * 290, colors[1 + (s - 1) % 4],
                             left_x + (s - 1) * 290 + 14, attribution._html(series[s]),
                             attribution._num(maxv::numeric, 2));
    END LOOP;
    IF nl > 0 THEN
        out := out || format('<text x="%s" y="%s" class="label">%s</text>'
                             '<text x="%s" y="%s" class="label" text-anchor="end">%s</text>',
                             left_x, top + plot_h + 16, attribution._html(labels[1]),
                             left_x + plot_w, top + plot_h + 16, attribution._html(labels[nl]));
    END IF;
    RETURN out || '</svg></figure>';
END
$$;
COMMENT ON FUNCTION attribution._svg_lines(text, text, jsonb) IS 'An inline SVG line chart from {labels, series, values[series][label]}, each series scaled to its maximum';

-- An HTML table from a query's rows as jsonb objects, columns in the order
-- given; numbers rounded for reading.
CREATE FUNCTION attribution._html_table(rows jsonb, columns text[], headers text[] DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '<div class="scroll"><table><thead><tr>';
    r   jsonb;
    v   jsonb;
BEGIN
    IF rows IS NULL OR jsonb_array_length(rows) = 0 THEN
        RETURN '<p class="empty">Nothing to show.</p>';
    END IF;
    FOR i IN 1 .. array_length(columns, 1) LOOP
        out := out || '<th>' || attribution._html(coalesce(headers[i], columns[i])) || '</th>';
    END LOOP;
    out := out || '</tr></thead><tbody>';
    FOR r IN SELECT e FROM jsonb_array_elements(rows) e LOOP
        out := out || '<tr>';
        FOR i IN 1 .. array_length(columns, 1) LOOP
            v := r->columns[i];
            out := out || CASE WHEN jsonb_typeof(v) = 'number'
                               THEN '<td class="n">' || attribution._num((v #>> '{}')::numeric, 2) || '</td>'
                               ELSE '<td>' || attribution._html(v #>> '{}') || '</td>' END;
        END LOOP;
        out := out || '</tr>';
    END LOOP;
    RETURN out || '</tbody></table></div>';
END
$$;
COMMENT ON FUNCTION attribution._html_table(jsonb, text[], text[]) IS 'An HTML table of jsonb rows, values escaped, numbers rounded for reading';
