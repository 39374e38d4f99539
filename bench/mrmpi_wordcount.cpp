// mrmpi_wordcount.cpp -- MR-MPI's word frequency (its examples/wordfreq),
// the baseline of bench/wordcount.sh:
//   mpirun -np 2 mrmpi_wordcount IN OUT [nocombine]
// Each rank maps ~32 MiB chunks of IN split at newlines (the map() of
// map_file_char), emits (word, 1) per blank-separated word, sums its own
// pairs with compress() (the combiner) unless "nocombine", then collate()
// moves each word to one rank and reduce() sums the counts.  Rank R writes
// its words as "word<TAB>count" lines to OUT.R.  C++ because Debian's
// libmrmpi-dev ships cmapreduce.h but not the C interface's symbols.
#include <mpi.h>
#include <mrmpi/keyvalue.h>
#include <mrmpi/mapreduce.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using MAPREDUCE_NS::KeyValue;
using MAPREDUCE_NS::MapReduce;

static const long CHUNK_BYTES = 32L << 20;

static bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

// The map: every word of one chunk as (word with its NUL, int 1).
static void wc_map(int, char *str, int size, KeyValue *kv, void *) {
    int one = 1;
    std::string last;
    int i = 0;
    while (i < size) {
        while (i < size && is_blank(str[i]))
            i++;
        int start = i;
        while (i < size && !is_blank(str[i]))
            i++;
        if (i == start)
            continue;
        if (i < size) { // the blank after the word becomes its NUL
            char saved = str[i];
            str[i] = '\0';
            kv->add(str + start, i - start + 1, (char *)&one, sizeof one);
            str[i] = saved;
        } else { // the chunk's last word, with no byte after it
            last.assign(str + start, i - start);
            kv->add((char *)last.c_str(), i - start + 1, (char *)&one, sizeof one);
        }
    }
}

static int wc_add_values(const char *values, int n) {
    int total = 0;
    for (int i = 0; i < n; i++) {
        int v;
        std::memcpy(&v, values + (size_t)i * sizeof v, sizeof v);
        total += v;
    }
    return total;
}

// compress() and reduce() alike: (word, the sum of its values), whether
// the values came in one block or, for a very frequent word, in many.
static void wc_reduce(char *key, int keybytes, char *values, int nvalues, int *, KeyValue *kv,
                      void *app) {
    int total = 0;
    if (nvalues > 0) {
        total = wc_add_values(values, nvalues);
    } else {
        MapReduce *mr = (MapReduce *)app;
        int blocks;
        mr->multivalue_blocks(blocks);
        for (int b = 0; b < blocks; b++) {
            char *block;
            int *sizes;
            int n = mr->multivalue_block(b, &block, &sizes);
            total += wc_add_values(block, n);
        }
    }
    kv->add(key, keybytes, (char *)&total, sizeof total);
}

static void wc_write(char *key, int, char *value, int, void *out) {
    int count;
    std::memcpy(&count, value, sizeof count);
    std::fprintf((FILE *)out, "%s\t%d\n", key, count);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, nprocs;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nprocs);
    if (argc < 3 || argc > 4 || (argc == 4 && std::strcmp(argv[3], "nocombine") != 0)) {
        if (rank == 0)
            std::fprintf(stderr, "usage: mrmpi_wordcount IN OUT [nocombine]\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        if (rank == 0)
            std::perror(argv[1]);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int nmap = (int)(st.st_size / CHUNK_BYTES) + 1; // at least one chunk per rank
    if (nmap < nprocs)
        nmap = nprocs;

    MapReduce *mr = new MapReduce(MPI_COMM_WORLD);
    mr->verbosity = 0;
    const char *tmp = std::getenv("TMPDIR");
    mr->set_fpath(tmp ? tmp : "/tmp");
    mr->map(nmap, 1, &argv[1], 0, 0, '\n', 1024, wc_map, NULL); // IN itself; a line under 1 KiB
    if (argc == 3)
        mr->compress(wc_reduce, mr);
    mr->collate(NULL);
    mr->reduce(wc_reduce, mr);

    std::string path = std::string(argv[2]) + "." + std::to_string(rank);
    FILE *out = std::fopen(path.c_str(), "w");
    if (!out) {
        std::perror(path.c_str());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    mr->scan(wc_write, out);
    if (std::fclose(out) != 0) {
        std::perror(path.c_str());
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    delete mr;
    MPI_Finalize();
    return 0;
}
