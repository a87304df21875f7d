/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the test VM, as root: grant+use cycles against p9auth.ko, and the
 * same number of write(2) calls to /dev/null, with the same data.
 *
 *	p9auth-bench VECTORS
 *
 * VECTORS: lines "HEXHASH CAPABILITY", each capability used once (HMACs
 * made on the host: the granter's HMAC is user-space work, not measured).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
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

int main(int argc, char **argv)
{
	struct cycle *c;
	char hex[80];
	int n = 0, cap = 1 << 20, fh, fu, fn, i;
	double t0, grant_use, devnull;
	FILE *f;

	if (argc != 2 || !(f = fopen(argv[1], "r")))
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

	t0 = now();
	for (i = 0; i < n; i++) {
		if (write(fh, c[i].hash, 32) != 32 ||
		    write(fu, c[i].cap, c[i].len) != (ssize_t)c[i].len) {
			fprintf(stderr, "cycle %d: %s\n", i, strerror(errno));
			return 1;
		}
	}
	grant_use = now() - t0;

	t0 = now();
	for (i = 0; i < n; i++) {
		if (write(fn, c[i].hash, 32) != 32 ||
		    write(fn, c[i].cap, c[i].len) != (ssize_t)c[i].len)
			return 1;
	}
	devnull = now() - t0;

	printf("bench: %d grant+use cycles (2 writes each) in %.3f s: %.0f cycles/s, %.1f us/cycle\n",
	       n, grant_use, n / grant_use, grant_use / n * 1e6);
	printf("bench: %d writes to /dev/null (same data) in %.3f s: %.0f writes/s, %.2f us/write\n",
	       2 * n, devnull, 2 * n / devnull, devnull / (2 * n) * 1e6);
	printf("bench: ratio: one grant+use cycle costs %.1f times a pair of /dev/null writes\n",
	       grant_use / devnull);
	close(fh);
	close(fu);
	close(fn);
	umount(MNT);
	return 0;
}
