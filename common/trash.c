/* trash.c -- trash roots and checkpoint names (see trash.h).  Pure
 * functions of their arguments and the local time zone. */
#include "trash.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "error.h"

int trash_root(const char *user, char *out, size_t len) {
    int n = snprintf(out, len, "/user/%s/%s", user, TRASH_DIR_NAME);
    return n < 0 || (size_t)n >= len ? EMBER_EINVAL : EMBER_OK;
}

int64_t trash_emptier_interval(int64_t interval_ms, int64_t checkpoint_ms) {
    return checkpoint_ms > 0 && checkpoint_ms <= interval_ms ? checkpoint_ms : interval_ms;
}

void trash_checkpoint_name(int64_t wall_ms, int attempt, char *out, size_t len) {
    time_t t = (time_t)(wall_ms / 1000);
    struct tm tm;
    char stamp[TRASH_NAME_MAX];
    localtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%y%m%d%H%M%S", &tm);
    if (attempt > 0)
        snprintf(out, len, "%s-%d", stamp, attempt);
    else
        snprintf(out, len, "%s", stamp);
}

/* The two-digit decimal number at s. */
static int trash_two_digits(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

int trash_checkpoint_time(const char *name, int64_t *wall_ms) {
    size_t digits = strspn(name, "0123456789");
    const char *rest = name + digits;
    int suffix_ok = *rest == '\0' || (*rest == '-' && rest[1] != '\0' &&
                                      strspn(rest + 1, "0123456789") == strlen(rest + 1));
    if (!((digits == 12 && suffix_ok) || (digits == 10 && *rest == '\0')))
        return EMBER_EINVAL;
    struct tm tm = {0};
    tm.tm_year = 100 + trash_two_digits(name); /* yy: 2000-2099 */
    tm.tm_mon = trash_two_digits(name + 2) - 1;
    tm.tm_mday = trash_two_digits(name + 4);
    tm.tm_hour = trash_two_digits(name + 6);
    tm.tm_min = trash_two_digits(name + 8);
    tm.tm_sec = digits == 12 ? trash_two_digits(name + 10) : 0;
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return EMBER_EINVAL;
    tm.tm_isdst = -1; /* the local rules of that date */
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return EMBER_EINVAL;
    *wall_ms = (int64_t)t * 1000;
    return EMBER_OK;
}

int trash_checkpoint_expired(int64_t checkpoint_ms, int64_t now_ms, int64_t interval_ms) {
    return now_ms - interval_ms > checkpoint_ms;
}
