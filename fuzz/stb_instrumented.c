/* The fuzz build compiles stb_image from Debian's header (the same version as the libstb it links otherwise), so
   that libFuzzer sees the decoder's branches and AddressSanitizer checks its memory accesses; these definitions
   take precedence over the shared libstb's. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
