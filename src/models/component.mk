include src/models/component-rules.mk
