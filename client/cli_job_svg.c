/* cli_job_svg.c -- a job's timeline as SVG, from its history record (see
 * cli_job_history.c for what the picture shows).
 *
 * Lanes: the attempts of each rank, in start order, each put in the first
 * lane of its rank that is free by its start (greedy interval
 * partitioning: the fewest lanes that keep overlapping attempts apart);
 * ranks in increasing order.  An attempt still running when the record
 * was written (finish 0) ends at the job's finish. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_job.h"

#define SVG_LABEL_W 150 /* the lane labels' column */
#define SVG_PLOT_W 900
#define SVG_LANE_H 18
#define SVG_LANE_GAP 4
#define SVG_GROUP_GAP 10
#define SVG_TOP 50
#define SVG_LEGEND_H 40

typedef struct {
    json_t *a;
    long long rank, start, end;
    int lane; /* within its rank */
    int row;  /* overall */
} svg_bar;

static const char *js(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

static long long ji(json_t *o, const char *key) {
    return json_integer_value(json_object_get(o, key));
}

/* A phase's start: the attempt's "phases" object (0: not reached). */
static long long jphase(json_t *a, const char *key) {
    return ji(json_object_get(a, "phases"), key);
}

static int svg_cmp(const void *x, const void *y) {
    const svg_bar *a = x, *b = y;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    return strcmp(js(a->a, "attempt_id"), js(b->a, "attempt_id"));
}

/* XML text: &, <, > and " escaped. */
static void svg_text(FILE *f, const char *s) {
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Lanes per rank; returns the number of rows (lanes in all). */
static int svg_assign_lanes(svg_bar *bars, size_t n) {
    qsort(bars, n, sizeof(*bars), svg_cmp);
    long long *lane_end = calloc(n ? n : 1, sizeof(long long));
    int rows = 0;
    for (size_t i = 0; i < n && lane_end != NULL;) {
        size_t j = i;
        int lanes = 0;
        for (; j < n && bars[j].rank == bars[i].rank; j++) {
            int l = 0;
            while (l < lanes && lane_end[l] > bars[j].start)
                l++;
            if (l == lanes)
                lanes++;
            lane_end[l] = bars[j].end;
            bars[j].lane = l;
            bars[j].row = rows + l;
        }
        rows += lanes;
        i = j;
    }
    free(lane_end);
    return rows;
}

/* The y of a row: lanes, with a gap between ranks. */
static int svg_row_y(const svg_bar *bars, size_t n, int row) {
    int groups = 0;
    long long last = -1;
    for (size_t i = 0; i < n; i++) {
        if (bars[i].row > row)
            break;
        if (bars[i].rank != last)
            groups += last != -1;
        last = bars[i].rank;
    }
    return SVG_TOP + row * (SVG_LANE_H + SVG_LANE_GAP) + groups * SVG_GROUP_GAP;
}

static const char *svg_fill(const char *kind) {
    if (strcmp(kind, "MAP") == 0)
        return "#4e79a7";
    if (strcmp(kind, "REDUCE") == 0)
        return "#59a14f";
    return "#bab0ac"; /* setup, cleanup */
}

static void svg_rect(FILE *f, double x, int y, double w, const char *fill, const char *extra) {
    fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"%s/>\n", x, y,
            w < 1 ? 1 : w, SVG_LANE_H, fill, extra);
}

/* One attempt's bar: phases for a reduce, its outcome marked. */
static void svg_bar_draw(FILE *f, const svg_bar *b, int y, long long t0, double scale) {
    json_t *a = b->a;
    double x0 = SVG_LABEL_W + (double)(b->start - t0) * scale;
    double x1 = SVG_LABEL_W + (double)(b->end - t0) * scale;
    const char *state = js(a, "status"), *kind = js(a, "kind");
    fprintf(f, "<g class=\"attempt %s %s\"><title>", kind, state);
    svg_text(f, js(a, "attempt_id"));
    fprintf(f, " %s on rank %lld (", state, b->rank);
    svg_text(f, js(a, "node"));
    fprintf(f, ") cores %s, %.3f s", js(a, "cpuset")[0] ? js(a, "cpuset") : "-",
            (double)(b->end - b->start) / 1000.0);
    if (js(a, "locality")[0])
        fprintf(f, ", %s", js(a, "locality"));
    if (js(a, "placement")[0]) {
        fputs(": ", f);
        svg_text(f, js(a, "placement"));
    }
    if (js(a, "diagnostic")[0]) {
        fputs(" -- ", f);
        svg_text(f, js(a, "diagnostic"));
    }
    fputs("</title>\n", f);
    int killed = strcmp(state, "KILLED") == 0;
    const char *opacity = killed ? " fill-opacity=\"0.35\"" : "";
    long long phase[4] = {b->start, jphase(a, "shuffle_start_ms"), jphase(a, "merge_start_ms"),
                          jphase(a, "reduce_start_ms")};
    if (strcmp(kind, "REDUCE") == 0 && phase[1] > 0) {
        static const char *colours[] = {"#59a14f", "#f28e2b", "#edc948", "#59a14f"};
        /* starting (before the shuffle), shuffle, merge, reduce */
        for (int p = 0; p < 4; p++) {
            long long from = phase[p] > 0 ? phase[p] : 0, to = b->end;
            for (int q = p + 1; q < 4; q++)
                if (phase[q] > 0) {
                    to = phase[q];
                    break;
                }
            if (from <= 0 || to <= from)
                continue;
            svg_rect(f, SVG_LABEL_W + (double)(from - t0) * scale, y, (double)(to - from) * scale,
                     p == 0 ? "#a0cbe8" : colours[p], opacity);
        }
    } else {
        svg_rect(f, x0, y, x1 - x0, svg_fill(kind), opacity);
    }
    if (killed)
        svg_rect(f, x0, y, x1 - x0, "url(#hatch)", "");
    if (strcmp(state, "FAILED") == 0) {
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"none\" "
                "stroke=\"#e15759\" stroke-width=\"2\"/>\n",
                x0, y, x1 - x0 < 1 ? 1 : x1 - x0, SVG_LANE_H);
        fprintf(f,
                "<path d=\"M%.1f %d L%.1f %d M%.1f %d L%.1f %d\" stroke=\"#e15759\" "
                "stroke-width=\"2\"/>\n",
                x1 - 8, y + 3, x1 - 2, y + SVG_LANE_H - 3, x1 - 2, y + 3, x1 - 8,
                y + SVG_LANE_H - 3);
    }
    fputs("</g>\n", f);
}

/* Time ticks every 1, 2, 5, 10, ... seconds, about ten of them. */
static void svg_axis(FILE *f, long long span_ms, double scale, int bottom) {
    static const long long steps[] = {100, 200, 500, 1000, 2000, 5000, 10000, 20000, 30000,
                                      60000, 120000, 300000, 600000, 1800000, 3600000};
    long long step = steps[sizeof(steps) / sizeof(steps[0]) - 1];
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        if (span_ms / steps[i] <= 10) {
            step = steps[i];
            break;
        }
    for (long long t = 0; t <= span_ms; t += step) {
        double x = SVG_LABEL_W + (double)t * scale;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n"
                "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%g s</text>\n",
                x, SVG_TOP - 6, x, bottom, x, SVG_TOP - 10, (double)t / 1000.0);
    }
}

static void svg_legend(FILE *f, int y) {
    static const char *names[] = {"map", "shuffle", "merge", "reduce", "setup/cleanup"};
    static const char *colours[] = {"#4e79a7", "#f28e2b", "#edc948", "#59a14f", "#bab0ac"};
    int x = SVG_LABEL_W;
    for (int i = 0; i < 5; i++, x += 120)
        fprintf(f,
                "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n",
                x, y, colours[i], x + 18, y + 12, names[i]);
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"none\" stroke=\"#e15759\" "
            "stroke-width=\"2\"/><text x=\"%d\" y=\"%d\" font-size=\"12\">failed</text>\n"
            "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"url(#hatch)\"/>"
            "<text x=\"%d\" y=\"%d\" font-size=\"12\">killed</text>\n",
            x, y, x + 18, y + 12, x + 80, y, x + 98, y + 12);
}

static void svg_write(FILE *f, json_t *h, svg_bar *bars, size_t n, int rows) {
    long long t0 = ji(h, "submit_ms"), t1 = ji(h, "finish_ms");
    for (size_t i = 0; i < n; i++) {
        if (t0 <= 0 || bars[i].start < t0)
            t0 = bars[i].start;
        if (bars[i].end > t1)
            t1 = bars[i].end;
    }
    long long span = t1 > t0 ? t1 - t0 : 1;
    double scale = (double)SVG_PLOT_W / (double)span;
    int bottom = n > 0 ? svg_row_y(bars, n, rows - 1) + SVG_LANE_H : SVG_TOP;
    int height = bottom + SVG_LEGEND_H + 10;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\">\n"
            "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" "
            "patternTransform=\"rotate(45)\"><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" "
            "stroke=\"#555\" stroke-width=\"2\"/></pattern></defs>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n<text x=\"10\" y=\"20\" "
            "font-size=\"14\" font-weight=\"bold\">",
            SVG_LABEL_W + SVG_PLOT_W + 20, height);
    svg_text(f, js(h, "job_id"));
    fputs(" ", f);
    svg_text(f, js(h, "name"));
    fprintf(f, ": %s in %.3f s</text>\n", js(h, "status"), (double)span / 1000.0);
    svg_axis(f, span, scale, bottom);
    for (size_t i = 0; i < n; i++) {
        int y = svg_row_y(bars, n, bars[i].row);
        if (bars[i].lane == 0 && (i == 0 || bars[i - 1].rank != bars[i].rank))
            fprintf(f, "<text x=\"10\" y=\"%d\" font-size=\"12\">rank %lld</text>\n",
                    y + SVG_LANE_H - 5, bars[i].rank);
        svg_bar_draw(f, &bars[i], y, t0, scale);
    }
    svg_legend(f, bottom + 14);
    fputs("</svg>\n", f);
}

int cli_job_history_svg(json_t *h, const char *path) {
    json_t *attempts = json_object_get(h, "attempts");
    size_t n = json_array_size(attempts);
    svg_bar *bars = calloc(n ? n : 1, sizeof(*bars));
    if (bars == NULL) {
        cli_error("job -history: out of memory");
        return 1;
    }
    long long job_end = ji(h, "finish_ms");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(attempts, i);
        if (ji(a, "start_ms") <= 0) /* never ran */
            continue;
        long long end = ji(a, "finish_ms") > 0 ? ji(a, "finish_ms") : job_end;
        bars[k++] = (svg_bar){.a = a,
                              .rank = ji(a, "rank"),
                              .start = ji(a, "start_ms"),
                              .end = end > ji(a, "start_ms") ? end : ji(a, "start_ms")};
    }
    int rows = svg_assign_lanes(bars, k);
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL) {
        cli_error("job -history: cannot write %s: %m", path);
        free(bars);
        return 1;
    }
    svg_write(f, h, bars, k, rows);
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        fflush(f);
    free(bars);
    if (bad) {
        cli_error("job -history: cannot write %s", path);
        return 1;
    }
    return 0;
}
