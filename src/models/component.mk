include src/models/component-markov.mk
