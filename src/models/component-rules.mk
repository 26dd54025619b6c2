# models (rule-based half): the seven rule models, path transforms, per-conversion
# credits and the analyst views over them.
OBJS += src/models/rules.o src/models/path_weights.o src/models/rules_agg.o src/models/transforms.o \
	src/models/transforms_sql.o src/models/credits.o
SQL_PARTS += src/models/models.sql src/models/credits.sql src/models/views.sql
REGRESS += models_rules models_transforms models_credits models_views
ISOLATION += credits_concurrency
