/* When the process's own threads may start (see background.h). */
#include "layerfs/background.h"

static _Atomic int allowed;

void lf_background_allow(void)
{
	allowed = 1;
}

int lf_background_allowed(void)
{
	return allowed;
}
