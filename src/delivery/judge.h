/*
 * judge.h
 *		What the platform modules share when they judge an answer: jsonb
 *		accessors that accept NULL at every step, and the outcomes that mean
 *		the same on every platform (response.c).
 *
 * The accessors are delivery's own until the core keeps one set for the
 * whole extension; they read a platform's answer tolerantly, since a field
 * missing or of the wrong type must become an outcome, never an error.
 */
#ifndef ATTR_JUDGE_H
#define ATTR_JUDGE_H

#include "utils/jsonb.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"

#define MAX_MESSAGE 200

/* jsonb accessors; all accept NULL */
extern JsonbValue *JGet(JsonbContainer *c, const char *key);
extern JsonbContainer *JCont(JsonbValue *v);
extern JsonbContainer *JGetC(JsonbContainer *c, const char *key);
extern int	JSize(JsonbContainer *c);
extern JsonbValue *JAt(JsonbContainer *c, int i);
extern char *JStr(JsonbValue *v);
extern char *JStrFull(JsonbValue *v);
extern bool JNum(JsonbValue *v, double *out);
extern bool JBool(JsonbValue *v);
extern char *JFirstString(JsonbContainer *c);

/* outcomes */
extern void SetRow(RowOutcome *r, char kind, const char *code, const char *msg, double delay);
extern void SetAll(Verdict *v, int n, char kind, const char *code, const char *msg, double delay);
extern void RejectBatch(Verdict *v, int n, const char *code, const char *msg);
extern void HoldForCredential(Verdict *v, int n, const char *code, const char *msg);
extern void PauseFor(Verdict *v, int n, const char *reason, const char *code, const char *msg);
extern void Throttle(Verdict *v, int n, const char *code, const char *msg, double delay_s,
					 double default_s);
extern void JudgeHttp(Verdict *v, int n, HttpRequest *req, const char *code, const char *msg);

#endif							/* ATTR_JUDGE_H */
