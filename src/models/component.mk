include src/models/component-markov.mk
include src/models/component-rules.mk
