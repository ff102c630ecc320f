/* lookup.c: a route's lookup program: its command line, its run, its
 * answer.
 *
 * The program runs once per connection, after the user name is known,
 * with no shell in between: its argv is the route's lookup line split at
 * blanks (lookup_argv; %u only for names that pass the %u rule), stdin is /dev/null, the environment is clean but for
 * SSHROUTE_USER, SSHROUTE_CLIENT_ADDR and SSHROUTE_CLIENT_PORT, and it is
 * killed (with everything it started) at lookup_timeout. Its answer is
 * route.ini key lines, checked by the same code as route.ini
 * (route_apply_answer). Exit 1 without output means "no such user";
 * anything else that is not exit 0 with a good answer is a failure, and
 * nobody is let in. */
#include "lookup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define STDERR_KEPT 512

/* ---- the command line ---- */

/* Appends the word of len characters at word, expanded, to buf at *used. */
static int add_word(const char *word, size_t len, const char *user, char *buf, size_t size,
                    size_t *used, char **arg)
{
	if (*used >= size || expand_span(word, len, user, buf + *used, size - *used) < 0)
		return -1;
	*arg = buf + *used;
	*used += strlen(*arg) + 1;
	return 0;
}

int lookup_argv(const struct route *r, const char *user, char *buf, size_t size,
                char *argv[LOOKUP_ARGS_MAX + 1])
{
	const char *s;
	size_t used = 0, len;
	int argc = 0;

	/* route_match keeps unsafe names away already; this is the last
	 * line of defence before a name reaches another program's argv. */
	if (r->lookup == NULL || (template_uses_u(r->lookup) && !user_name_is_safe(user)))
		return -1;
	for (s = r->lookup; (len = config_lookup_word(&s)) > 0; s += len) {
		if (argc == LOOKUP_ARGS_MAX || add_word(s, len, user, buf, size, &used, &argv[argc]) < 0)
			return -1;
		argc++;
	}
	if (argc == 0)
		return -1;
	argv[argc] = NULL;
	return argc;
}

/* ---- running the program ---- */

/* What the program did. */
struct run {
	pid_t pid;
	int out_fd, err_fd;
	char *out;                  /* stdout, NUL-terminated */
	size_t out_len;
	char err[STDERR_KEPT];      /* the start of stderr, for the log */
	size_t err_len;
	int status;                 /* from waitpid */
	const char *failure;        /* set when the run itself failed */
};

/* The running program, for lookup_abort(), which a signal handler calls. */
static volatile sig_atomic_t running_pid;
static volatile sig_atomic_t aborted;

void lookup_abort(void)
{
	pid_t pid = (pid_t)running_pid;

	aborted = 1;
	if (pid > 0)
		kill(-pid, SIGKILL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child: the clean start described above; never returns. */
static void exec_program(char *const argv[], int out_fd, int err_fd, const char *user,
                         const char *client_addr, int client_port)
{
	char user_env[4096], addr_env[128], port_env[64];
	char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", user_env, addr_env, port_env, NULL };
	int null_fd = open("/dev/null", O_RDONLY);

	snprintf(user_env, sizeof(user_env), "SSHROUTE_USER=%s", user);
	snprintf(addr_env, sizeof(addr_env), "SSHROUTE_CLIENT_ADDR=%s", client_addr);
	snprintf(port_env, sizeof(port_env), "SSHROUTE_CLIENT_PORT=%d", client_port);
	setsid(); /* its own process group, so that a timeout kills all of it */
	signal(SIGPIPE, SIG_DFL);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(126);
	closefrom(3);
	execve(argv[0], argv, envp);
	_exit(127);
}

static int start_program(struct run *run, char *const argv[], const char *user,
                         const char *client_addr, int client_port)
{
	int out[2], err[2];

	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(err, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	run->pid = fork();
	if (run->pid == 0)
		exec_program(argv, out[1], err[1], user, client_addr, client_port);
	if (run->pid > 0)
		running_pid = run->pid;
	close(out[1]);
	close(err[1]);
	run->out_fd = out[0];
	run->err_fd = err[0];
	if (run->pid < 0) {
		close(out[0]);
		close(err[0]);
		return -1;
	}
	return 0;
}

/* Reads what is there on fd into the run; returns 0 at end of file. */
static int read_some(struct run *run, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	if (fd == run->err_fd) {
		size_t room = sizeof(run->err) - 1 - run->err_len;
		size_t take = (size_t)n < room ? (size_t)n : room;

		memcpy(run->err + run->err_len, buf, take);
		run->err_len += take;
		return 1;
	}
	/* NOLINTNEXTLINE(bugprone-implicit-widening-of-multiplication-result): a constant */
	if (run->out_len + (size_t)n > LOOKUP_OUTPUT_MAX) {
		run->failure = "its output is larger than 64 KiB";
		return 0;
	}
	memcpy(run->out + run->out_len, buf, (size_t)n);
	run->out_len += (size_t)n;
	return 1;
}

/* Collects stdout and stderr until both end, the output is too large, or
 * the deadline passes. */
static void collect_output(struct run *run, long long deadline)
{
	struct pollfd fds[2] = { { run->out_fd, POLLIN, 0 }, { run->err_fd, POLLIN, 0 } };
	int open_fds = 2, i;

	while (open_fds > 0 && run->failure == NULL) {
		long long left = deadline - now_ms();
		int rc;

		if (aborted) {
			run->failure = "it was stopped: the login grace time ran out";
			return;
		}
		if (left <= 0) {
			run->failure = "it did not answer within lookup_timeout";
			return;
		}
		rc = poll(fds, 2, (int)left);
		if (rc < 0 && errno != EINTR) {
			run->failure = "poll failed";
			return;
		}
		for (i = 0; rc > 0 && i < 2; i++) {
			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (!read_some(run, fds[i].fd)) {
				fds[i].fd = -1;
				open_fds--;
			}
		}
	}
}

/* Waits for the program; kills its whole process group first when the
 * run failed, or when it closed its output but does not exit in time. */
static void finish_program(struct run *run, long long deadline)
{
	int rc;

	if (run->failure != NULL)
		kill(-run->pid, SIGKILL);
	for (;;) {
		rc = waitpid(run->pid, &run->status, WNOHANG);
		if (rc == run->pid || (rc < 0 && errno != EINTR))
			break;
		if (now_ms() >= deadline && run->failure == NULL) {
			run->failure = "it did not exit within lookup_timeout";
			kill(-run->pid, SIGKILL);
		}
		if (run->failure != NULL) {
			while (waitpid(run->pid, &run->status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		usleep(10000);
	}
	kill(-run->pid, SIGKILL); /* whatever it left running */
	running_pid = 0;
	close(run->out_fd);
	close(run->err_fd);
}

static void log_program_stderr(const struct run *run, const struct route *r)
{
	char *line, *save = NULL, copy[STDERR_KEPT];

	memcpy(copy, run->err, run->err_len);
	copy[run->err_len] = '\0';
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_info("lookup for route %s said: %s", r->pattern, line);
}

/* Runs r's lookup for user and classifies what it did: an answer (exit 0;
 * *answer then holds the output, to be freed), "no such user" (exit 1
 * with no output), or a failure, reported. */
enum lookup_result lookup_run(const struct route *r, const char *user, const char *client_addr,
                              int client_port, char **answer, config_report_fn report, void *ctx)
{
	char argbuf[8192], *argv[LOOKUP_ARGS_MAX + 1], message[512];
	struct run run = { .out = calloc(1, LOOKUP_OUTPUT_MAX + 1) };
	long long deadline = now_ms() + (long long)r->lookup_timeout * 1000;

	*answer = NULL;
	if (run.out == NULL || lookup_argv(r, user, argbuf, sizeof(argbuf), argv) < 0)
		run.failure = run.out ? "its command line is too long" : "out of memory";
	else if (start_program(&run, argv, user, client_addr, client_port) < 0)
		run.failure = "it could not be started";
	else {
		collect_output(&run, deadline);
		finish_program(&run, deadline);
		log_program_stderr(&run, r);
	}
	if (run.failure == NULL && memchr(run.out, '\0', run.out_len) != NULL)
		run.failure = "its output holds a NUL byte";
	if (run.failure == NULL && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) {
		*answer = run.out;
		return LOOKUP_ANSWER;
	}
	if (run.failure == NULL && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 1 &&
	    run.out_len == 0) {
		log_info("lookup for route %s: no such user", r->pattern);
		free(run.out);
		return LOOKUP_NO_USER;
	}
	if (run.failure == NULL && WIFSIGNALED(run.status))
		snprintf(message, sizeof(message), "it was killed by signal %d", WTERMSIG(run.status));
	else if (run.failure == NULL)
		snprintf(message, sizeof(message), "it exited with status %d%s",
		         WEXITSTATUS(run.status), run.out_len ? " and printed something" : "");
	else
		snprintf(message, sizeof(message), "%s", run.failure);
	snprintf(argbuf, sizeof(argbuf), "lookup for route %s (%s): %s", r->pattern, r->lookup,
	         message);
	report(argbuf, ctx);
	free(run.out);
	return LOOKUP_FAILED;
}
