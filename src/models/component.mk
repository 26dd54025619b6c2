# models: attribution models and the credits analysts read.
include src/models/component-rules.mk
include src/models/component-markov.mk
