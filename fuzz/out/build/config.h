/* written by fuzz/run.sh in place of configure's */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE 1
#endif
#define PACKAGE "tsock"
