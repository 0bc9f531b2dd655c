#pragma once
/// @file
/// Kept in step with the top-level VERSION file (a test checks it).
#define BIQA_VERSION_MAJOR 0
#define BIQA_VERSION_MINOR 1
#define BIQA_VERSION_PATCH 0
#define BIQA_VERSION_STRING "0.1.0"
