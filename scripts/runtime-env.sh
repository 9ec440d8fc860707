#!/bin/sh
# glibc malloc settings for toolcontrol's processes (npm start, npm run worker, the
# in-process benchmark), then runs the given command. glibc reads them when a process
# starts, so they cannot be set from JavaScript. Each one already exported wins.
#
# MALLOC_ARENA_MAX=2: glibc otherwise gives each inference and image thread its own arena,
#   and a process's resident memory grows by hundreds of MB under load. sharp also reads it:
#   with it set, libvips uses every core instead of one.
# MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_: every photo allocates buffers of a few MB
#   (the decoded pixels, the model's input tensor). Below 32 MB they come from the heap and
#   up to 128 MB of freed heap is kept for the next photo, instead of being mapped, zeroed
#   page by page and unmapped again for each photo.
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-33554432}"
export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-134217728}"
exec "$@"
