# models (data-driven half): Markov chain removal effect, Shapley variants,
# and fit_models with its run tables.
OBJS += src/models/markov_paths.o src/models/markov_chain.o src/models/markov_solve.o \
	src/models/markov_agg.o src/models/markov_sql.o \
	src/models/shapley_agg.o src/models/shapley_solve.o src/models/shapley_sql.o
SQL_PARTS += src/models/markov.sql src/models/shapley.sql src/models/fit.sql
REGRESS += models_markov models_shapley models_fit
