/*
 * request_kit.h
 *		Request assembly helpers for the platform modules (request_kit.c).
 */
#ifndef ATTR_REQUEST_KIT_H
#define ATTR_REQUEST_KIT_H

#include "lib/stringinfo.h"

#include "delivery/delivery.h"
#include "delivery/http_engine.h"

extern void DeliveryAppendUrl(StringInfo url, const char *endpoint, const char *path);
extern void DeliveryAppendElements(StringInfo body, DeliveryBatch *batch);
extern void DeliveryAddBearer(HttpRequest *req, const char *token);
extern char *DestAccount(Destination *dest, const char *key);

#endif							/* ATTR_REQUEST_KIT_H */
