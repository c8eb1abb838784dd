/*
 * kafka-mock: runs librdkafka's in-memory mock Kafka cluster on fixed ports
 * until SIGTERM/SIGINT, as a Kafka-protocol broker for local runs and tests.
 *
 * Linked statically against the patched librdkafka that
 * scripts/kafka-mock/build.sh builds (see the .patch next to this file).
 *
 *   kafka-mock [--brokers N] [--port P] [--pid-file F] [--bootstrap-file F]
 *              [--topic NAME:PARTITIONS[:REPLICATION]]... [--debug]
 *
 * Broker i (1..N) listens on 127.0.0.1:(P + i - 1). The bootstrap list is
 * printed on stdout and written to --bootstrap-file once every listener is up,
 * so a supervisor can wait for that file.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rdkafka.h"
#include "rdkafka_mock.h"

/* Kafka API key of Metadata. The mock encodes Metadata v8+ wrongly, and at
 * v0-v3 every lookup of an unknown topic auto-creates it; capping at v7 lets
 * clients send allowAutoTopicCreation=false so topics only come from the
 * admin API, as on a production cluster with auto-creation disabled. */
#define KAFKA_API_METADATA 3
#define METADATA_MAX_VERSION 7

#define MAX_BROKERS 16

/* librdkafka 2.0.2 binds every mock broker to 127.0.0.1:0. This executable
 * defines bind() itself, so the statically linked mock calls this wrapper,
 * which hands out consecutive fixed ports while the cluster is being created
 * and forwards everything to libc's bind(). */
static int fixed_port_next   = 0; /* 0: pass binds through unchanged */
static int fixed_port_last   = 0;
static int fixed_port_failed = 0;

int bind(int fd, const struct sockaddr *addr, socklen_t addrlen) {
        static int (*libc_bind)(int, const struct sockaddr *, socklen_t);

        if (!libc_bind)
                libc_bind = (int (*)(int, const struct sockaddr *, socklen_t))
                    dlsym(RTLD_NEXT, "bind");

        if (fixed_port_next && addr->sa_family == AF_INET &&
            addrlen >= (socklen_t)sizeof(struct sockaddr_in) &&
            ((const struct sockaddr_in *)addr)->sin_port == 0) {
                struct sockaddr_in fixed = *(const struct sockaddr_in *)addr;
                int port                 = fixed_port_next++;
                int r;

                fixed.sin_port = htons((uint16_t)port);
                r = libc_bind(fd, (const struct sockaddr *)&fixed, sizeof(fixed));
                if (r == -1) {
                        fprintf(stderr,
                                "kafka-mock: cannot listen on 127.0.0.1:%d: "
                                "%s\n",
                                port, strerror(errno));
                        fixed_port_failed = 1;
                }
                return r;
        }

        return libc_bind(fd, addr, addrlen);
}

static void usage(const char *argv0) {
        fprintf(stderr,
                "usage: %s [--brokers N] [--port P] [--pid-file F] "
                "[--bootstrap-file F] [--topic NAME:PARTITIONS[:REPLICATION]]... "
                "[--debug]\n",
                argv0);
        exit(2);
}

static int parse_int(const char *what, const char *s, int min, int max) {
        char *end;
        long v;

        errno = 0;
        v     = strtol(s, &end, 10);
        if (errno || *end || end == s || v < min || v > max) {
                fprintf(stderr, "kafka-mock: %s must be an integer in %d..%d, got '%s'\n",
                        what, min, max, s);
                exit(2);
        }
        return (int)v;
}

/* Writes content + "\n" to path via a temporary file and rename(), so a
 * reader never sees a partial file. */
static void write_file_atomically(const char *path, const char *content) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
        if (!(f = fopen(tmp, "w")) || fprintf(f, "%s\n", content) < 0 ||
            fclose(f) != 0 || rename(tmp, path) != 0) {
                fprintf(stderr, "kafka-mock: cannot write %s: %s\n", path,
                        strerror(errno));
                exit(1);
        }
}

static void create_topic(rd_kafka_mock_cluster_t *cluster,
                         const char *spec,
                         int broker_cnt) {
        char name[256];
        int partitions, replication = 1;
        const char *colon = strchr(spec, ':');
        rd_kafka_resp_err_t err;

        if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(name)) {
                fprintf(stderr, "kafka-mock: --topic expects NAME:PARTITIONS[:REPLICATION], got '%s'\n",
                        spec);
                exit(2);
        }
        memcpy(name, spec, (size_t)(colon - spec));
        name[colon - spec] = '\0';

        {
                char counts[64];
                char *second;
                snprintf(counts, sizeof(counts), "%s", colon + 1);
                if ((second = strchr(counts, ':'))) {
                        *second     = '\0';
                        replication = parse_int("--topic replication", second + 1,
                                                1, broker_cnt);
                }
                partitions = parse_int("--topic partitions", counts, 1, 10000);
        }

        err = rd_kafka_mock_topic_create(cluster, name, partitions, replication);
        if (err) {
                fprintf(stderr, "kafka-mock: cannot create topic %s: %s\n", name,
                        rd_kafka_err2str(err));
                exit(1);
        }
}

int main(int argc, char **argv) {
        int broker_cnt             = 1;
        int base_port              = 9092;
        const char *pid_file       = NULL;
        const char *bootstrap_file = NULL;
        const char *topics[256];
        int topic_cnt = 0;
        int debug     = 0;
        char errstr[512];
        char pid[32];
        rd_kafka_conf_t *conf;
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *cluster;
        const char *bootstraps;
        sigset_t stop_signals;
        int sig, i;

        for (i = 1; i < argc; i++) {
                const char *arg = argv[i];
                if (i + 1 >= argc && strcmp(arg, "--debug") != 0)
                        usage(argv[0]);
                if (!strcmp(arg, "--brokers"))
                        broker_cnt = parse_int("--brokers", argv[++i], 1, MAX_BROKERS);
                else if (!strcmp(arg, "--port"))
                        base_port = parse_int("--port", argv[++i], 1, 65535);
                else if (!strcmp(arg, "--pid-file"))
                        pid_file = argv[++i];
                else if (!strcmp(arg, "--bootstrap-file"))
                        bootstrap_file = argv[++i];
                else if (!strcmp(arg, "--topic") && topic_cnt < 256)
                        topics[topic_cnt++] = argv[++i];
                else if (!strcmp(arg, "--debug"))
                        debug = 1;
                else
                        usage(argv[0]);
        }
        if (base_port + broker_cnt - 1 > 65535) {
                fprintf(stderr, "kafka-mock: ports %d..%d out of range\n", base_port,
                        base_port + broker_cnt - 1);
                return 2;
        }

        /* Block the stop signals before librdkafka starts its threads so that
         * they all inherit the mask and only sigwait() below receives them. */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "log_level", debug ? "7" : "4", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK ||
            (debug && rd_kafka_conf_set(conf, "debug", "mock", errstr,
                                        sizeof(errstr)) != RD_KAFKA_CONF_OK)) {
                fprintf(stderr, "kafka-mock: %s\n", errstr);
                return 1;
        }
        /* The handle only hosts the mock cluster's threads; it never connects. */
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "kafka-mock: %s\n", errstr);
                return 1;
        }

        fixed_port_next = base_port;
        fixed_port_last = base_port + broker_cnt - 1;
        cluster         = rd_kafka_mock_cluster_new(rk, broker_cnt);
        if (!cluster || fixed_port_failed || fixed_port_next != fixed_port_last + 1) {
                fprintf(stderr,
                        "kafka-mock: could not create a %d-broker cluster on "
                        "ports %d..%d\n",
                        broker_cnt, base_port, fixed_port_last);
                return 1;
        }
        fixed_port_next = 0;

        if (rd_kafka_mock_set_apiversion(cluster, KAFKA_API_METADATA, 0,
                                         METADATA_MAX_VERSION)) {
                fprintf(stderr, "kafka-mock: cannot cap the Metadata API version\n");
                return 1;
        }

        for (i = 0; i < topic_cnt; i++)
                create_topic(cluster, topics[i], broker_cnt);

        bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        if (pid_file)
                write_file_atomically(pid_file, pid);
        if (bootstrap_file)
                write_file_atomically(bootstrap_file, bootstraps);
        printf("%s\n", bootstraps);
        fflush(stdout);

        do {
                if (sigwait(&stop_signals, &sig) != 0)
                        sig = 0;
        } while (sig != SIGTERM && sig != SIGINT);

        rd_kafka_mock_cluster_destroy(cluster);
        rd_kafka_destroy(rk);
        if (bootstrap_file)
                unlink(bootstrap_file);
        if (pid_file)
                unlink(pid_file);
        return 0;
}
