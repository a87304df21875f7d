/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the test VM, as root: grant+use cycles against p9auth.ko, and the
 * same number of write(2) calls to /dev/null, with the same data.
 *
 *	p9auth-bench VECTORS [FILL]
 *
 * VECTORS: lines "HEXHASH CAPABILITY", each capability used once (HMACs
 * made on the host: the granter's HMAC is user-space work, not measured).
 * FILL (default 0: none): then grant that many distinct hashes into one
 * fresh mount (maxcaps=FILL) and print the grant rate at 10k, 100k, 1M
 * and FILL, so that a table whose grants slow down as it fills shows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MNT "/run/p9auth-bench"

struct cycle {
	unsigned char hash[32];
	char cap[160];
	size_t len;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define ROUNDS 10

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int fill(long total)
{
	static const long marks[] = { 10000, 100000, 1000000 };
	unsigned char h[32];
	char opts[64];
	double t0, last_t;
	long i, last_i = 0;
	unsigned int m = 0;
	int fh;

	snprintf(opts, sizeof(opts), "maxcaps=%ld,timeout=86400", total);
	if (mount("p9auth", MNT, "p9auth", 0, opts) ||
	    (fh = open(MNT "/caphash", O_WRONLY)) < 0) {
		perror("fill setup");
		return 1;
	}
	/* Distinct: a random prefix and the counter; the buckets are keyed anyway. */
	if (getrandom(h, sizeof(h), 0) != sizeof(h))
		return 1;
	t0 = last_t = now();
	for (i = 0; i < total; i++) {
		memcpy(h, &i, sizeof(i));
		if (write(fh, h, 32) != 32) {
			fprintf(stderr, "fill %ld: %s\n", i, strerror(errno));
			return 1;
		}
		if (i + 1 == total || (m < 3 && i + 1 == marks[m])) {
			double t = now();

			printf("bench: fill: %ld hashes in %.2f s: %.0f grants/s overall, %.0f grants/s for the last %ld\n",
			       i + 1, t - t0, (i + 1) / (t - t0), (i + 1 - last_i) / (t - last_t), i + 1 - last_i);
			fflush(stdout);
			last_t = t;
			last_i = i + 1;
			if (m < 3 && i + 1 == marks[m])
				m++;
		}
	}
	close(fh);
	t0 = now();
	umount(MNT);
	printf("bench: fill: unmount with %ld hashes: %.2f s\n", total, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct cycle *c;
	char hex[80];
	int n = 0, cap = 1 << 20, fh, fu, fn, i;
	double t0, grant_use, devnull, replay, wrong, ratio[ROUNDS];
	int r;
	FILE *f;

	if (argc < 2 || argc > 3 || !(f = fopen(argv[1], "r")))
		return 2;
	c = calloc(cap, sizeof(*c));
	while (n < cap && fscanf(f, "%79s %159s", hex, c[n].cap) == 2) {
		for (i = 0; i < 32; i++)
			sscanf(hex + 2 * i, "%2hhx", &c[n].hash[i]);
		c[n].len = strlen(c[n].cap);
		n++;
	}
	fclose(f);

	mkdir(MNT, 0755);
	if (mount("p9auth", MNT, "p9auth", 0, "") ||
	    (fh = open(MNT "/caphash", O_WRONLY)) < 0 ||
	    (fu = open(MNT "/capuse", O_WRONLY)) < 0 ||
	    (fn = open("/dev/null", O_WRONLY)) < 0) {
		perror("bench setup");
		return 1;
	}

	/*
	 * Ten rounds, each a tenth of the cycles and then the same writes to
	 * /dev/null, so that both loops see the same moments of a shared
	 * host; the round with the smallest ratio and the median are printed
	 * (the host's noise only ever adds time).
	 */
	grant_use = devnull = 0;
	for (r = 0; r < ROUNDS; r++) {
		int lo = n * r / ROUNDS, hi = n * (r + 1) / ROUNDS;
		double g, d;

		t0 = now();
		for (i = lo; i < hi; i++) {
			if (write(fh, c[i].hash, 32) != 32 ||
			    write(fu, c[i].cap, c[i].len) != (ssize_t)c[i].len) {
				fprintf(stderr, "cycle %d: %s\n", i, strerror(errno));
				return 1;
			}
		}
		g = now() - t0;
		t0 = now();
		for (i = lo; i < hi; i++) {
			if (write(fn, c[i].hash, 32) != 32 ||
			    write(fn, c[i].cap, c[i].len) != (ssize_t)c[i].len)
				return 1;
		}
		d = now() - t0;
		grant_use += g;
		devnull += d;
		ratio[r] = g / d;
	}
	qsort(ratio, ROUNDS, sizeof(ratio[0]), cmp_double);

	/*
	 * Where a use's time goes: the same capabilities again (all used up
	 * now: parsed, HMAC computed, credentials prepared, lookup misses),
	 * and with FROM changed to 1 (refused after parsing, before the HMAC).
	 */
	t0 = now();
	for (i = 0; i < n; i++)
		if (write(fu, c[i].cap, c[i].len) >= 0 || errno != EPERM)
			return 1;
	replay = now() - t0;
	t0 = now();
	for (i = 0; i < n; i++) {
		c[i].cap[0] = '1';
		if (write(fu, c[i].cap, c[i].len) >= 0 || errno != EPERM)
			return 1;
	}
	wrong = now() - t0;

	printf("bench: %d grant+use cycles (2 writes each) in %.3f s: %.0f cycles/s, %.1f us/cycle\n",
	       n, grant_use, n / grant_use, grant_use / n * 1e6);
	printf("bench: %d writes to /dev/null (same data) in %.3f s: %.0f writes/s, %.2f us/write\n",
	       2 * n, devnull, 2 * n / devnull, devnull / (2 * n) * 1e6);
	printf("bench: ratio: one grant+use cycle costs %.1f times a pair of /dev/null writes (all rounds)\n",
	       grant_use / devnull);
	printf("bench: ratio per round of %d: lowest %.1f, median %.1f, highest %.1f\n",
	       n / ROUNDS, ratio[0], (ratio[ROUNDS / 2 - 1] + ratio[ROUNDS / 2]) / 2, ratio[ROUNDS - 1]);
	printf("bench: a use of a used-up capability (parse, HMAC, creds prepared, miss): %.1f us; refused before the HMAC (wrong FROM): %.1f us\n",
	       replay / n * 1e6, wrong / n * 1e6);
	close(fh);
	close(fu);
	close(fn);
	umount(MNT);
	return argc == 3 && atol(argv[2]) > 0 ? fill(atol(argv[2])) : 0;
}
