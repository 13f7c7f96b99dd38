// The native layer's shared pieces, in one include: tensor handles (handle.h) and argument
// reading, error mapping and export tables (args.h).
#pragma once

#include "args.h"
#include "handle.h"
