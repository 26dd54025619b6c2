/*
 * json_scan.c
 *		A pre-scan of a JSON text's nesting depth, before the real parser.
 *
 * The server's JSON parser recurses once per level and stops a too deep
 * document with a "stack depth limit exceeded" error.  A webhook body that
 * deep is malformed, not a reason to fail the call, so the depth is
 * measured first by counting brackets outside strings.  The text need not
 * be valid JSON: the real parser judges that afterwards.
 */
#include "ingest/json_scan.h"

/*
 * True when no point of the text is nested deeper than max_depth objects
 * and arrays.
 */
bool
JsonDepthWithin(const char *text, size_t len, int max_depth)
{
	int			depth = 0;
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = text[i];

		if (in_string)
		{
			if (c == '\\')
				i++;			/* the escaped character cannot end the string */
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c)
		{
			case '"':
				in_string = true;
				break;
			case '{':
			case '[':
				if (++depth > max_depth)
					return false;
				break;
			case '}':
			case ']':
				if (depth > 0)
					depth--;
				break;
			default:
				break;
		}
	}
	return true;
}
