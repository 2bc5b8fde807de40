/* The lock-order checker (include/layerfs/lockcheck.h) catches what it
 * must: each wrong order aborts the process (the test expects SIGABRT),
 * the right ones pass. Built only with -Dlockcheck=true. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "layerfs/lockcheck.h"

static pthread_rwlock_t cfg = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t node = PTHREAD_MUTEX_INITIALIZER, child = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t leaf = PTHREAD_MUTEX_INITIALIZER, leaf2 = PTHREAD_MUTEX_INITIALIZER;

START_TEST(the_map_order_passes)
{
	lf_rdlock(&cfg, LF_LK_UNION_CFG);
	lf_mutex_lock(&node, LF_LK_NODE);
	lf_mutex_lock(&child, LF_LK_NODE_CHILD);
	lf_mutex_lock(&leaf, LF_LK_LEAF);
	ck_assert_int_eq(lf_lk_depth(), 4);
	/* a trylock cannot wait: any rank */
	ck_assert_int_eq(lf_mutex_trylock(&leaf2, LF_LK_NODE), 0);
	lf_mutex_unlock(&leaf2);
	lf_mutex_unlock(&child);    /* let go out of order: fine */
	lf_mutex_unlock(&leaf);
	lf_mutex_unlock(&node);
	lf_rwunlock(&cfg);
	ck_assert_int_eq(lf_lk_depth(), 0);
}
END_TEST

START_TEST(a_lower_rank_under_a_higher_aborts)
{
	lf_mutex_lock(&leaf, LF_LK_LEAF);
	lf_mutex_lock(&node, LF_LK_NODE);   /* a node's lock under a leaf */
}
END_TEST

START_TEST(two_nodes_without_the_child_class_abort)
{
	lf_mutex_lock(&node, LF_LK_NODE);
	lf_mutex_lock(&child, LF_LK_NODE);
}
END_TEST

START_TEST(the_layer_set_read_twice_aborts)
{
	/* issue 27: a public call inside another read-locked cfg again; a
	 * writer queued between the two would deadlock them */
	lf_rdlock(&cfg, LF_LK_UNION_CFG);
	lf_rdlock(&cfg, LF_LK_UNION_CFG);
}
END_TEST

START_TEST(the_union_under_a_node_lock_aborts)
{
	/* issue 27's hang: a readdir callback called back into the union */
	lf_mutex_lock(&node, LF_LK_NODE);
	lf_rdlock(&cfg, LF_LK_UNION_CFG);
}
END_TEST

START_TEST(letting_go_of_a_lock_not_held_aborts)
{
	lf_mutex_unlock(&leaf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lockcheck");
	TCase *tc = tcase_create("order");
	tcase_add_test(tc, the_map_order_passes);
	tcase_add_test_raise_signal(tc, a_lower_rank_under_a_higher_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, two_nodes_without_the_child_class_abort, SIGABRT);
	tcase_add_test_raise_signal(tc, the_layer_set_read_twice_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, the_union_under_a_node_lock_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, letting_go_of_a_lock_not_held_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_set_fork_status(r, CK_FORK);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
