/* The non-dominated box decomposition of BoTorch's FastNondominatedPartitioning, in C.
 *
 * qLogNEHVI needs, for every Monte Carlo sample of the baseline's objectives, a
 * set of disjoint boxes covering the part of objective space that the sample's
 * front does not dominate. BoTorch computes it with the incremental local upper
 * bound algorithm of Lacour, Klamroth and Fonseca (2017), run twice (Yang et
 * al. 2019): once on the front, then on the negated local upper bounds of the
 * first pass. For three or more objectives it loops in Python over the points
 * of every sample, which costs milliseconds per sample and dominated proposal
 * time. This file runs the same two passes, in the same order and with the same
 * comparisons, so its boxes are BoTorch's boxes.
 *
 * Conventions follow BoTorch: both passes minimise. Bound k of a pass holds its
 * point U[k] (m values) and its defining points Z[k] (m x m values; row i is the
 * defining point z^i(u), column j its j-th coordinate).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OUTCOMES 64

typedef struct {
    int m;
    long n;
    long capacity;
    double *U; /* n x m */
    double *Z; /* n x m x m */
} Bounds;

static int bounds_reserve(Bounds *b, long capacity) {
    if (capacity <= b->capacity) return 0;
    double *U = realloc(b->U, sizeof(double) * capacity * b->m);
    if (!U) return -1;
    b->U = U;
    double *Z = realloc(b->Z, sizeof(double) * capacity * b->m * b->m);
    if (!Z) return -1;
    b->Z = Z;
    b->capacity = capacity;
    return 0;
}

static void bounds_free(Bounds *b) {
    free(b->U);
    free(b->Z);
    b->U = b->Z = NULL;
    b->n = b->capacity = 0;
}

/* One bound: `u` with defining points `Z` whose diagonal is `u` and whose other entries are `fill`. */
static int bounds_start(Bounds *b, int m, const double *u, double fill) {
    b->m = m;
    b->n = 0;
    b->capacity = 0;
    b->U = b->Z = NULL;
    if (bounds_reserve(b, 16)) return -1;
    for (int j = 0; j < m; j++) b->U[j] = u[j];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) b->Z[i * m + j] = (i == j) ? b->U[j] : fill;
    b->n = 1;
    return 0;
}

/* Algorithm 1 of Lacour et al.: update the bounds `b` with a new point `z` (BoTorch's
 * compute_local_upper_bounds). `next` is scratch space and becomes the new bounds. */
static int bounds_insert(Bounds *b, Bounds *next, const double *z) {
    const int m = b->m;
    const long mm = (long)m * m;
    long dominated = 0;
    for (long k = 0; k < b->n; k++) {
        int all = 1;
        for (int j = 0; j < m && all; j++) all = b->U[k * m + j] > z[j];
        dominated += all;
    }
    if (dominated == 0) return 0;
    next->n = 0;
    if (bounds_reserve(next, b->n - dominated + (long)m * dominated)) return -1;
    /* The bounds that z does not dominate stay, in order. */
    for (long k = 0; k < b->n; k++) {
        int all = 1;
        for (int j = 0; j < m && all; j++) all = b->U[k * m + j] > z[j];
        if (all) continue;
        memcpy(next->U + next->n * m, b->U + k * m, sizeof(double) * m);
        memcpy(next->Z + next->n * mm, b->Z + k * mm, sizeof(double) * mm);
        next->n++;
    }
    /* Then, direction by direction, the bounds that z splits off each dominated one. */
    for (int j = 0; j < m; j++) {
        for (long k = 0; k < b->n; k++) {
            const double *u = b->U + k * m;
            const double *Zk = b->Z + k * mm;
            int all = 1;
            for (int t = 0; t < m && all; t++) all = u[t] > z[t];
            if (!all) continue;
            double highest = -INFINITY;
            for (int i = 0; i < m; i++)
                if (i != j && Zk[i * m + j] > highest) highest = Zk[i * m + j];
            if (!(z[j] >= highest)) continue;
            double *u_new = next->U + next->n * m;
            double *Z_new = next->Z + next->n * mm;
            memcpy(u_new, u, sizeof(double) * m);
            u_new[j] = z[j];
            memcpy(Z_new, Zk, sizeof(double) * mm);
            memcpy(Z_new + j * m, z, sizeof(double) * m);
            next->n++;
        }
    }
    Bounds swap = *b;
    *b = *next;
    *next = swap;
    return 0;
}

/* The non-dominated cells of a front, as BoTorch's FastNondominatedPartitioning gives them.
 *
 * neg_pareto: P x m, the negated Pareto points (each better than the reference point).
 * neg_ref: m, the negated reference point.
 * lower, upper: capacity x m each; the cells' corners are written there.
 * Returns the number of cells (nothing is written beyond `capacity`; call again
 * with more room when the count exceeds it), -1 when memory runs out, or -2 when
 * m is outside 1..MAX_OUTCOMES.
 */
long nondominated_cells(const double *neg_pareto, long P, int m, const double *neg_ref,
                        double *lower, double *upper, long capacity) {
    if (m < 1 || m > MAX_OUTCOMES) return -2;
    Bounds first, second, scratch = {m, 0, 0, NULL, NULL};
    long cells = -1;
    if (bounds_start(&first, m, neg_ref, -INFINITY)) goto done_first;
    for (long p = 0; p < P; p++)
        if (bounds_insert(&first, &scratch, neg_pareto + p * m)) goto done_first;

    /* Second pass: the dominated region of the negated bounds, minimised, against a
     * reference point at +inf, with the original reference point as ideal point. */
    double inf_point[MAX_OUTCOMES];
    for (int j = 0; j < m; j++) inf_point[j] = INFINITY;
    if (bounds_start(&second, m, inf_point, 0.0)) goto done_second;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            if (i != j) second.Z[i * m + j] = -neg_ref[j];
    double z[MAX_OUTCOMES];
    for (long k = 0; k < first.n; k++) {
        for (int j = 0; j < m; j++) z[j] = -first.U[k * m + j];
        if (bounds_insert(&second, &scratch, z)) goto done_second;
    }

    /* Equation 2 of Lacour et al.: the box of each bound; empty boxes are dropped. */
    cells = 0;
    const long mm = (long)m * m;
    for (long k = 0; k < second.n; k++) {
        const double *Zk = second.Z + k * mm;
        double lo[MAX_OUTCOMES], hi[MAX_OUTCOMES];
        lo[0] = Zk[0];
        hi[0] = INFINITY;
        for (int j = 1; j < m; j++) {
            double highest = -INFINITY;
            for (int i = 0; i < j; i++)
                if (Zk[i * m + j] > highest) highest = Zk[i * m + j];
            lo[j] = highest;
            hi[j] = second.U[k * m + j];
        }
        int empty = 0;
        for (int j = 0; j < m; j++) empty |= !(hi[j] > lo[j]);
        if (empty) continue;
        if (cells < capacity) {
            memcpy(lower + cells * m, lo, sizeof(double) * m);
            memcpy(upper + cells * m, hi, sizeof(double) * m);
        }
        cells++;
    }
done_second:
    bounds_free(&second);
done_first:
    bounds_free(&first);
    bounds_free(&scratch);
    return cells;
}
