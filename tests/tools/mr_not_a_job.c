/* mr_not_a_job.c -- a shared library that is not a job (no
 * ember_job_define), for mr_local.sh's refusal. */
int mr_not_a_job_marker(void);
int mr_not_a_job_marker(void) { return 42; }
