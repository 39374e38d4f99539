/* make_corpus.h -- the seed generators of make_corpus.c's command. */
#ifndef EMBER_MAKE_CORPUS_H
#define EMBER_MAKE_CORPUS_H

/* Writes the seed corpus of fuzz target name (edit_log, block_meta,
 * cluster_info, config) into dir.  0, or -1 for an unknown name. */
int corpus_files_write(const char *name, const char *dir);

#endif
