/*
 * fuzz_json_depth.c
 *		libFuzzer target: the nesting-depth pre-scan of webhook bodies.
 *
 * Cross-checks JsonDepthWithin against a plain count of brackets outside
 * strings, computed independently.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "ingest/json_scan.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
MaxDepth(const uint8_t *s, size_t len)
{
	int			depth = 0;
	int			max = 0;
	bool		str = false;
	bool		esc = false;

	for (size_t i = 0; i < len; i++)
	{
		if (str)
		{
			if (esc)
				esc = false;
			else if (s[i] == '\\')
				esc = true;
			else if (s[i] == '"')
				str = false;
		}
		else if (s[i] == '"')
			str = true;
		else if (s[i] == '{' || s[i] == '[')
		{
			if (++depth > max)
				max = depth;
		}
		else if ((s[i] == '}' || s[i] == ']') && depth > 0)
			depth--;
	}
	return max;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int			limit = size > 0 ? data[0] % 80 : 0;
	bool		within = JsonDepthWithin((const char *) data, size, limit);

	assert(within == (MaxDepth(data, size) <= limit));
	return 0;
}
