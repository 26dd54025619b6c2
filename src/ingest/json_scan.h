/*
 * json_scan.h
 *		A pre-scan of a JSON text's nesting depth, before the real parser.
 *
 * Plain C, free of the server's machinery, so that it can be fuzzed.
 */
#ifndef ATTR_JSON_SCAN_H
#define ATTR_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of objects and arrays a webhook body may have. */
#define JSON_SCAN_MAX_DEPTH 64

extern bool JsonDepthWithin(const char *text, size_t len, int max_depth);

#endif							/* ATTR_JSON_SCAN_H */
