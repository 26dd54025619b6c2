# report: report_html(), the HTML document people look at (inline CSS and SVG).
SQL_PARTS += src/report/charts.sql src/report/report.sql
REGRESS += report_html
