/*
 * progress.h
 *		Progress of long SQL commands (fit_models, recompute_credits) that
 *		other sessions read through the view attribution.progress.
 */
#ifndef ATTR_PROGRESS_H
#define ATTR_PROGRESS_H

extern void ProgressInit(void);
extern void ProgressStart(const char *command, const char *phase, int64 total);
extern void ProgressUpdate(const char *phase, int64 done, int64 total);
extern void ProgressEnd(void);

#endif
