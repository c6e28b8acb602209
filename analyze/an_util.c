/* an_util.c: number formatting, UTF-8 cleaning and the progress bar that every
 * report uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "an.h"

const char *an_human(uint64_t bytes, char *buf, size_t cap)
{
    static const char *unit[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1000 && u < 6) {
        v /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, cap, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, unit[u]);
    return buf;
}

const char *an_commas(uint64_t n, char *buf, size_t cap)
{
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = 0;
    return buf;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0 || len > n || c == 0)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) || /* overlong, surrogate */
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return len;
}

char *an_utf8(const char *s, size_t n)
{
    char *out = malloc(n * 3 + 1), *o = out;
    const unsigned char *p = (const unsigned char *)s;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(p + i, n - i);
        if (k) {
            memcpy(o, p + i, k);
            o += k;
            i += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = 0;
    return out;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Work shorter than this shows no bar: a second, or FILREC_PROGRESS_AFTER seconds. */
static uint64_t progress_after_ns(void)
{
    static uint64_t ns = UINT64_MAX;
    if (ns == UINT64_MAX) {
        const char *e = getenv("FILREC_PROGRESS_AFTER");
        char *end;
        double s = e && *e ? strtod(e, &end) : 1.0;
        ns = e && *e && (*end || !(s >= 0 && s < 1e6)) ? 1000000000u : (uint64_t)(s * 1e9);
    }
    return ns;
}

void an_progress_init(an_progress *p, const char *what, int enabled)
{
    p->on = enabled && isatty(2);
    p->shown = 0;
    p->what = what;
    p->start_ns = now_ns();
    p->next_ns = p->start_ns + progress_after_ns(); /* only for work that takes a while */
}

void an_progress_tick(an_progress *p, uint64_t done, uint64_t total)
{
    if (!p->on)
        return;
    uint64_t t = now_ns();
    if (t < p->next_ns)
        return;
    p->next_ns = t + 100000000u;
    int pct = total ? (int)(done * 100 / total) : 0;
    int bar = pct * 30 / 100;
    fprintf(stderr, "\rfilrec: %s [%.*s%*s] %3d%%", p->what, bar,
            "##############################", 30 - bar, "", pct > 100 ? 100 : pct);
    p->shown = 1;
}

void an_progress_end(an_progress *p)
{
    if (p->shown)
        fprintf(stderr, "\r\033[K");
    p->shown = 0;
}

void an_xml(FILE *out, const char *s, size_t n)
{
    char *u = an_utf8(s, n);
    for (const unsigned char *p = (const unsigned char *)(u ? u : "?"); *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        case '\n': fputs("&#10;", out); break; /* raw, an attribute would read a space */
        case '\t': fputs("&#9;", out); break;
        default:
            if (*p < 0x20)
                fputs("\xEF\xBF\xBD", out); /* not allowed in XML 1.0 */
            else
                fputc(*p, out);
        }
    }
    free(u);
}
