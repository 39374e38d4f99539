/* cli_dfs_usage.c -- what `ember dfs` says about its verbs, as Hadoop's
 * FsShell says it: `-usage [CMD...]`, `-help [CMD...]`, `-CMD --help`,
 * and the usage line after a bad option or a wrong number of arguments.
 *
 * Every verb has one entry here: its usage (Hadoop's, less what ember
 * does not do), its options in the form of Hadoop's CommandFormat (so a
 * bad one is refused before the cluster is even reached), how many
 * operands it takes, and its description.  dfs_usage_check() applies the
 * entry to a verb's arguments: Hadoop's "-ls: Illegal option -z" or
 * "-mkdir: Not enough arguments: expected 1 but got 0" and the verb's
 * usage line on stderr, exit status 2 (ember's bad usage; Hadoop's is
 * 255).  Options are whole words as in Hadoop ("-skipTrash"); single
 * letters may also be run together ("-Rh"), which Hadoop refuses and
 * ember has always taken.  A verb without an entry parses its own
 * arguments. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli_dfs.h"

#define DFS_USAGE_PREFIX "Usage: ember dfs [generic options]"

/* One verb.  options: space-separated names, a trailing '=' for one that
 * takes a value (the next argument); NULL when the verb parses its own
 * (-find's expression follows its paths).  max_args < 0: no limit. */
typedef struct {
    const char *name;
    const char *usage;
    const char *options;
    int min_args, max_args;
    const char *description; /* lines, each printed after two spaces */
} dfs_usage_entry;

/* Sorted by name, as Hadoop lists its commands. */
static const dfs_usage_entry dfs_usage_table[] = {
    {"appendToFile", "<localsrc> ... <dst>", "", 2, -1,
     "Appends the contents of all the given local files to the given dst file.\n"
     "The dst file will be created if it does not exist. If <localsrc> is -,\n"
     "then the input is read from stdin."},
    {"cat", "<src> ...", "", 1, -1,
     "Fetch all files that match the file pattern <src> and display their\n"
     "content on stdout. Every chunk's checksum is verified."},
    {"checksum", "<src> ...", "", 1, -1,
     "Dump checksum information for files that match the file pattern <src> to\n"
     "stdout: PATH, the algorithm (MD5-of-<n>MD5-of-512CRC32C) and the\n"
     "MD5MD5CRC32 checksum in hex, equal to Hadoop's for the same content and\n"
     "block size. This asks a datanode of every block of the file."},
    {"chgrp", "[-R] GROUP PATH...", "R", 2, -1, "This is equivalent to -chown ... :GROUP ..."},
    {"chmod", "[-R] <MODE[,MODE]... | OCTALMODE> PATH...", "R", 2, -1,
     "Changes permissions of a file. This works similar to the shell's chmod\n"
     "command with a few exceptions.\n"
     "-R           modifies the files recursively.\n"
     "<MODE>       Mode is the same as mode used for the shell's command. The\n"
     "             only letters recognized are 'rwx', e.g. a+r,g-w,+rwx,o=r.\n"
     "<OCTALMODE>  Mode specified in 3 or 4 digits. If 4 digits, the first\n"
     "             may be 1 or 0 to turn the sticky bit on or off,\n"
     "             respectively. Unlike the shell command, it is not possible\n"
     "             to specify only part of the mode, e.g. 754 is same as\n"
     "             u=rwx,g=rx,o=r."},
    {"chown", "[-R] [OWNER][:[GROUP]] PATH...", "R", 2, -1,
     "Changes owner and group of a file. This is similar to the shell's chown\n"
     "command with a few exceptions.\n"
     "-R  modifies the files recursively.\n"
     "If only the owner or group is specified, then only the owner or group is\n"
     "modified. Only the superuser may change the owner of a file."},
    {"copyFromLocal",
     "[-f] [-p] [-d] [-t <thread count>] [-q <thread pool queue size>] <localsrc> ... <dst>",
     "f p d t= q=", 2, -1, "Identical to the -put command."},
    {"copyToLocal", "[-f] [-p] <src> ... <localdst>", "f p", 2, -1,
     "Identical to the -get command."},
    {"count", "[-q] [-h] [-v] [-u] [-x] <path> ...", "q h v u x", 1, -1,
     "Count the number of directories, files and bytes under the paths that\n"
     "match the specified file pattern. The output columns are:\n"
     "DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME\n"
     "or, with the -q option:\n"
     "QUOTA REM_QUOTA SPACE_QUOTA REM_SPACE_QUOTA\n"
     "      DIR_COUNT FILE_COUNT CONTENT_SIZE PATHNAME\n"
     "-h  shows file sizes in human readable format.\n"
     "-v  displays a header line.\n"
     "-u  shows the quota and the usage against the quota without the\n"
     "    detailed content summary.\n"
     "-x  excludes snapshots from the result.\n"
     "ember keeps no quotas and no snapshots: the quota columns always read\n"
     "none and inf (no quota set), and -x changes nothing."},
    {"cp", "[-f] [-d] [-t <thread count>] [-q <thread pool queue size>] <src> ... <dst>",
     "f d t= q=", 2, -1,
     "Copy files that match the file pattern <src> to a destination. When\n"
     "copying multiple files, the destination must be a directory. A directory\n"
     "is copied with everything below it, never into itself.\n"
     "-f  Overwrites the destination if it already exists.\n"
     "-d  Skip creation of temporary file(<dst>._COPYING_).\n"
     "-t <thread count>  Number of threads to be used, default is 1 (at most\n"
     "    64 in ember: each holds a connection).\n"
     "-q <thread pool queue size>  Accepted; ember lists every file first."},
    {"df", "[-h] [<path> ...]", "h", 0, -1,
     "Shows the capacity, free and used space of the filesystem: the live core\n"
     "nodes' storage, summed.\n"
     "-h  Formats the sizes of files in a human-readable fashion rather than a\n"
     "    number of bytes."},
    {"du", "[-s] [-h] [-v] [-x] <path> ...", "s h v x", 0, -1,
     "Show the amount of space, in bytes, used by the files that match the\n"
     "specified file pattern. The following flags are optional:\n"
     "-s  Rather than showing the size of each individual file that matches the\n"
     "    pattern, shows the total (summary) size.\n"
     "-h  Formats the sizes of files in a human-readable fashion rather than a\n"
     "    number of bytes.\n"
     "-v  option displays a header line.\n"
     "-x  Excludes snapshots from being counted (ember has none: it changes\n"
     "    nothing).\n"
     "Note that, even without the -s option, this only shows size summaries one\n"
     "level deep into a directory.\n"
     "The output is in the form\n"
     "    size  disk space consumed  name(full path)\n"
     "where the disk space consumed counts every replica."},
    {"expunge", "[-immediate] [-fs <path>]", "immediate fs=", 0, 0,
     "Delete files from the trash that are older than the retention threshold\n"
     "(fs.trash.interval), then checkpoint the current trash.\n"
     "-immediate  Delete every file in the trash at once.\n"
     "-fs <path>  Accepted for Hadoop's sake: ember has one file system."},
    {"find", "<path> ... <expression> ...", NULL, 0, -1,
     "Finds all files that match the specified expression and applies selected\n"
     "actions to them. If no <path> is specified then defaults to the current\n"
     "working directory. If no expression is specified then defaults to -print.\n"
     "The following primary expressions are recognised:\n"
     "  -name pattern\n"
     "  -iname pattern\n"
     "    Evaluates as true if the basename of the file matches the pattern\n"
     "    using standard file system globbing. If -iname is used then the match\n"
     "    is case insensitive.\n"
     "  -print\n"
     "  -print0\n"
     "    Always evaluates to true. Causes the current pathname to be written to\n"
     "    standard output followed by a newline. If the -print0 expression is\n"
     "    used then an ASCII NULL character is appended rather than a newline.\n"
     "Expressions are joined by an implicit AND."},
    {"get", "[-f] [-p] <src> ... <localdst>", "f p", 2, -1,
     "Copy files that match the file pattern <src> to the local name. <src> is\n"
     "kept. When copying multiple files, the destination must be a directory.\n"
     "Passing -f overwrites the destination if it already exists and -p\n"
     "preserves access and modification times, ownership (the names the host\n"
     "knows) and the mode."},
    {"getmerge", "[-nl] [-skip-empty-file] <src> <localdst>", "nl skip-empty-file", 2, -1,
     "Get all the files in the directories that match the source file pattern\n"
     "and merge and sort them to only one file on local fs. <src> is kept.\n"
     "-nl               Add a newline character at the end of each file.\n"
     "-skip-empty-file  Do not add new line character for empty file."},
    {"head", "<file>", "", 1, 1, "Show the first 1KB of the file."},
    {"help", "[cmd ...]", "", 0, -1,
     "Displays help for given command or all commands if none is specified."},
    {"ls", "[-C] [-d] [-h] [-R] [-t] [-S] [-r] [-u] [<path> ...]", "C d h R t S r u", 0, -1,
     "List the contents that match the specified file pattern. If path is not\n"
     "specified, the contents of /user/<currentUser> will be listed. For a\n"
     "directory a list of its direct children is returned (unless -d option is\n"
     "specified).\n"
     "Directory entries are of the form:\n"
     "    permissions - userId groupId sizeOfDirectory(in bytes)\n"
     "    modificationDate(yyyy-MM-dd HH:mm) directoryName\n"
     "and file entries are of the form:\n"
     "    permissions numberOfReplicas userId groupId sizeOfFile(in bytes)\n"
     "    modificationDate(yyyy-MM-dd HH:mm) fileName\n"
     "-C  Display the paths of files and directories only.\n"
     "-d  Directories are listed as plain files.\n"
     "-h  Formats the sizes of files in a human-readable fashion rather than a\n"
     "    number of bytes.\n"
     "-R  Recursively list the contents of directories.\n"
     "-t  Sort files by modification time (most recent first).\n"
     "-S  Sort files by size.\n"
     "-r  Reverse the order of the sort.\n"
     "-u  Use time of last access instead of modification for display and\n"
     "    sorting. ember sets the access time at creation and by -touch only.\n"
     "Times are UTC."},
    {"mkdir", "[-p] <path> ...", "p", 1, -1,
     "Create a directory in specified location.\n"
     "-p  Do not fail if the directory already exists"},
    {"moveFromLocal", "[-f] [-p] [-d] <localsrc> ... <dst>", "f p d", 2, -1,
     "Same as -put, except that the source is deleted after it's copied."},
    {"moveToLocal", "<src> ... <localdst>", "", 2, -1,
     "Same as -get, except that the source is deleted after it's copied\n"
     "(Hadoop's -moveToLocal is not implemented)."},
    {"mv", "<src> ... <dst>", "", 2, -1,
     "Move files that match the specified file pattern <src> to a destination\n"
     "<dst>. When moving multiple files, the destination must be a directory."},
    {"put", "[-f] [-p] [-d] [-t <thread count>] [-q <thread pool queue size>] <localsrc> ... <dst>",
     "f p d t= q=", 2, -1,
     "Copy files from the local file system into fs. Copying fails if the file\n"
     "already exists, unless the -f flag is given. A directory is copied with\n"
     "everything below it; <localsrc> - is stdin.\n"
     "Flags:\n"
     "-p  Preserves access and modification times, ownership and the mode.\n"
     "-f  Overwrites the destination if it already exists.\n"
     "-d  Skip creation of temporary file(<dst>._COPYING_).\n"
     "-t <thread count>  Number of threads to be used, default is 1 (at most\n"
     "    64 in ember: each holds a connection).\n"
     "-q <thread pool queue size>  Accepted; ember lists every file first."},
    {"rm", "[-f] [-r|-R] [-skipTrash] [-safely] <src> ...", "f r R skipTrash safely", 1, -1,
     "Delete all files that match the specified file pattern. Equivalent to the\n"
     "Unix command \"rm <src>\"\n"
     "-f          If the file does not exist, do not display a diagnostic message\n"
     "            or modify the exit status to reflect an error.\n"
     "-[rR]       Recursively deletes directories.\n"
     "-skipTrash  option bypasses trash, if enabled, and immediately deletes\n"
     "            <src>.\n"
     "-safely     option requires safety confirmation, if enabled, requires\n"
     "            confirmation before deleting large directory with more than\n"
     "            <hadoop.shell.delete.limit.num.files> files. Delay is expected\n"
     "            when walking over large directory recursively to count the\n"
     "            number of files to be deleted before the confirmation."},
    {"rmdir", "<dir> ...", "", 1, -1,
     "Removes the directory entry specified by each directory argument,\n"
     "provided it is empty."},
    {"setrep", "[-R] [-w] <rep> <path> ...", "R w", 2, -1,
     "Set the replication level of a file. If <path> is a directory then the\n"
     "command recursively changes the replication factor of all files under the\n"
     "directory tree rooted at <path>.\n"
     "-w  It requests that the command waits for the replication to complete.\n"
     "    This can potentially take a very long time.\n"
     "-R  It is accepted for backwards compatibility. It has no effect."},
    {"stat", "[format] <path> ...", "", 1, -1,
     "Print statistics about the file/directory at <path> in the specified\n"
     "format. Format accepts permissions in octal (%a) and symbolic (%A),\n"
     "filesize in bytes (%b), type (%F), group name of owner (%g), name (%n),\n"
     "block size (%o), replication (%r), user name of owner (%u), access date\n"
     "(%x, %X), modification date (%y, %Y). %x and %y show UTC date as\n"
     "\"yyyy-MM-dd HH:mm:ss\" and %X and %Y show milliseconds since January 1,\n"
     "1970 UTC. If the format is not specified, %y is used by default."},
    {"tail", "[-f] [-s <sleep interval>] <file>", "f s=", 1, 1,
     "Show the last 1KB of the file.\n"
     "-f  Shows appended data as the file grows.\n"
     "-s  With -f, defines the sleep interval between iteration in\n"
     "    milliseconds."},
    {"test", "-[defswrz] <path>", "d e f s w r z", 1, 1,
     "Answer various questions about <path>, with result via exit status.\n"
     "-d  return 0 if <path> is a directory.\n"
     "-e  return 0 if <path> exists.\n"
     "-f  return 0 if <path> is a file.\n"
     "-s  return 0 if file <path> is greater than zero bytes in size.\n"
     "-w  return 0 if file <path> exists and write permission is granted.\n"
     "-r  return 0 if file <path> exists and read permission is granted.\n"
     "-z  return 0 if file <path> is zero bytes in size, else return 1."},
    {"text", "<src> ...", "", 1, -1,
     "Takes a source file and outputs the file in text format. A gzip file\n"
     "(found by its magic bytes 1f 8b) is decompressed, and so is a file whose\n"
     "name ends in .deflate (zlib, Hadoop's DefaultCodec); any other file is\n"
     "output as it is. SequenceFiles are not decoded."},
    {"touch", "[-a] [-m] [-t TIMESTAMP (yyyyMMdd:HHmmss) ] [-c] <path> ...", "a m c t=", 1, -1,
     "Updates the access and modification times of the file specified by the\n"
     "<path> to the current time. If the file does not exist, then a zero\n"
     "length file is created at <path> with current time as the timestamp of\n"
     "that <path>.\n"
     "-a  Change only the access time\n"
     "-m  Change only the modification time\n"
     "-t  TIMESTAMP Use specified timestamp instead of current time; UTC in\n"
     "    ember, as it shows times\n"
     "    TIMESTAMP format yyyyMMdd:HHmmss\n"
     "-c  Do not create any files"},
    {"touchz", "<path> ...", "", 1, -1,
     "Creates a file of zero length at <path> with current time as the\n"
     "timestamp of that <path>. An error is returned if the file exists with\n"
     "non-zero length"},
    {"truncate", "[-w] <length> <path> ...", "w", 2, -1,
     "Truncate all files that match the specified file pattern to the specified\n"
     "length. At a block boundary this is immediate; inside a block, the\n"
     "datanodes cut that block's replicas (block recovery) and the file is\n"
     "closed at the new length once they have.\n"
     "-w  Requests that the command wait for block recovery to complete, if\n"
     "    necessary."},
    {"usage", "[cmd ...]", "", 0, -1,
     "Displays the usage for given command or all commands if none is\n"
     "specified."},
};

#define DFS_USAGE_COUNT (sizeof(dfs_usage_table) / sizeof(dfs_usage_table[0]))

static const dfs_usage_entry *dfs_usage_find(const char *name) {
    for (size_t i = 0; i < DFS_USAGE_COUNT; i++)
        if (strcmp(dfs_usage_table[i].name, name) == 0)
            return &dfs_usage_table[i];
    return NULL;
}

/* "-ls [-d] [-h] [-R] [<path> ...]" */
static void dfs_usage_print_line(FILE *f, const dfs_usage_entry *e) {
    fprintf(f, "-%s%s%s", e->name, e->usage[0] ? " " : "", e->usage);
}

/* Hadoop's per-command help: the usage and " :", then the description
 * indented by two spaces. */
static void dfs_usage_print_help(FILE *f, const dfs_usage_entry *e) {
    dfs_usage_print_line(f, e);
    fputs(" :\n", f);
    const char *p = e->description;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        fprintf(f, "  %.*s\n", (int)n, p);
        p += n + (nl != NULL);
    }
}

void dfs_usage_print_all(FILE *f, int help) {
    fputs(DFS_USAGE_PREFIX "\n", f);
    for (size_t i = 0; i < DFS_USAGE_COUNT; i++) {
        fputs("\t[", f);
        dfs_usage_print_line(f, &dfs_usage_table[i]);
        fputs("]\n", f);
    }
    for (size_t i = 0; help && i < DFS_USAGE_COUNT; i++) {
        fputc('\n', f);
        dfs_usage_print_help(f, &dfs_usage_table[i]);
    }
    fputs("\nGeneric options supported are:\n"
          "-D <property=value>   define a value for a given property (dfs.replication,\n"
          "                      dfs.blocksize, ...; see 'ember getconf')\n"
          "\n"
          "The general command line syntax is:\n"
          "ember dfs [genericOptions] [commandOptions]\n"
          "\n"
          "-copyFromLocal is -put and -copyToLocal is -get. A path is absolute, an\n"
          "hdfs:// URI or relative to /user/<currentUser>; globs are expanded.\n"
          "Exit status: 0, 1 when a path failed, 2 on bad usage.\n",
          f);
}

void dfs_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "-%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    const dfs_usage_entry *e = dfs_usage_find(cmd);
    if (e != NULL) {
        fputs(DFS_USAGE_PREFIX " ", stderr);
        dfs_usage_print_line(stderr, e);
        fputc('\n', stderr);
    }
}

/* Looks opt (an argument without its dash) up in spec: 1 a flag, 2 an
 * option taking a value, 0 unknown. */
static int dfs_usage_option(const char *spec, const char *opt) {
    size_t n = strlen(opt);
    for (const char *p = spec; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        int valued = end > p && end[-1] == '=';
        size_t len = (size_t)(end - p) - (size_t)valued;
        if (len == n && n > 0 && strncmp(p, opt, n) == 0)
            return valued ? 2 : 1;
        p = end;
    }
    return 0;
}

/* Whether every letter of opt is a one-letter flag of spec ("Rh"). */
static int dfs_usage_letters(const char *spec, const char *opt) {
    for (const char *c = opt; *c; c++) {
        char one[2] = {*c, '\0'};
        if (dfs_usage_option(spec, one) != 1)
            return 0;
    }
    return opt[0] != '\0';
}

int dfs_usage_check(const char *cmd, int argc, char **argv) {
    const dfs_usage_entry *e = dfs_usage_find(cmd);
    if (e == NULL)
        return -1;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *opt = argv[i] + 1;
        if (strcmp(opt, "-help") == 0) {
            dfs_usage_print_help(stdout, e);
            return 0;
        }
        if (e->options == NULL)
            return -1; /* the verb's own parser, past any --help */
        int kind = dfs_usage_option(e->options, opt);
        if (kind == 2 && i + 1 < argc)
            i++; /* its value */
        else if (kind == 0 && !dfs_usage_letters(e->options, opt)) {
            dfs_usage_error(cmd, "Illegal option %s", argv[i]);
            return 2;
        }
    }
    if (e->options == NULL)
        return -1;
    int operands = argc - i;
    if (operands < e->min_args) {
        dfs_usage_error(cmd, "Not enough arguments: expected %d but got %d", e->min_args, operands);
        return 2;
    }
    if (e->max_args >= 0 && operands > e->max_args) {
        dfs_usage_error(cmd, "Too many arguments: expected %d but got %d", e->max_args, operands);
        return 2;
    }
    return -1;
}

int dfs_usage_command(const char *cmd, int argc, char **argv) {
    int help = strcmp(cmd, "help") == 0;
    if (argc < 2) {
        dfs_usage_print_all(stdout, help);
        return 0;
    }
    int status = 0;
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i][0] == '-' ? argv[i] + 1 : argv[i];
        const dfs_usage_entry *e = dfs_usage_find(name);
        if (e == NULL) {
            dfs_usage_error(cmd, "`%s': Unknown command", name);
            status = 2;
        } else if (help) {
            dfs_usage_print_help(stdout, e);
        } else {
            fputs(DFS_USAGE_PREFIX " ", stdout);
            dfs_usage_print_line(stdout, e);
            fputc('\n', stdout);
        }
    }
    return status;
}
