/*  workload_cas.c -- see workload_cas.h.
*/
#include "workload_cas.h"

#include <stdio.h>
#include <string.h>

void
wl_saw (wl_seen_t *k, const char *key, const char *value, json_t *o)
{
    snprintf (k->key, sizeof k->key, "%s", key);
    k->found = value != NULL;
    if (!value)
        return;
    snprintf (k->value, sizeof k->value, "%s", value);
    json_t *idx = json_object_get (o, "mod_index");
    if (!idx)
        idx = json_object_get (o, "index");
    k->mod_index = (uint64_t)json_integer_value (idx);
}

json_t *
wl_cas_body (const wl_seen_t *k, const char *key, const char *value,
             bool by_index, char *body, size_t len)
{
    bool known = strcmp (k->key, key) == 0 && k->found;
    if (!known) {
        snprintf (body, len,
                  "{\"key\":\"%s\",\"value\":\"%s\",\"prev_exist\":false}", key,
                  value);
        return json_pack ("{s:n}", "prev");
    }
    if (by_index && k->mod_index > 0) {
        snprintf (body, len,
                  "{\"key\":\"%s\",\"value\":\"%s\",\"prev_index\":%llu}", key,
                  value, (unsigned long long)k->mod_index);
        return json_pack ("{s:s, s:I}", "prev", k->value, "prev_index",
                          (json_int_t)k->mod_index);
    }
    snprintf (body, len,
              "{\"key\":\"%s\",\"value\":\"%s\",\"prev_value\":\"%s\"}", key,
              value, k->value);
    return json_pack ("{s:s}", "prev", k->value);
}

int
wl_cas_done (wl_seen_t *k, const char *key, const char *value, int status,
             json_t *j, json_t *extra)
{
    if (status == 200) {
        json_object_set_new (extra, "swapped", json_true ());
        wl_saw (k, key, value, j);
        return 1;
    }
    json_t *cur = json_object_get (j, "current");
    const char *cv = json_string_value (json_object_get (cur, "value"));
    json_object_set_new (extra, "swapped", json_false ());
    json_object_set_new (extra, "current",
                         cv ? json_string (cv) : json_null ());
    wl_saw (k, key, cv, cur);
    return 0;
}
