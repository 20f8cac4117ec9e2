/* An OpenIGTLink stream (a file) read with the protocol's reference C library (libOpenIGTLink's igtlutil, as Debian's
 * libopenigtlink-dev ships it): one line a message, tab-separated:
 *   version type device seconds.nanoseconds crc(ok|bad) content
 * content: IMAGE "columns,rows,slices,scalar type,components", LBMETA "name,image device,label,r,g,b,a,i,j,k" per
 * element joined by ";", STRING its text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "igtl_header.h"
#include "igtl_image.h"
#include "igtl_lbmeta.h"
#include "igtl_string.h"
#include "igtl_util.h"

int main(int argc, char **argv) {
  FILE *f = argc > 1 ? fopen(argv[1], "rb") : NULL;
  unsigned char raw[IGTL_HEADER_SIZE];
  igtl_header h;
  if (f == NULL) return 2;
  while (fread(raw, IGTL_HEADER_SIZE, 1, f) == 1) {
    int version = raw[0] << 8 | raw[1]; /* the field is "version" in 1.x, "header_version" in 3.x */
    memcpy(&h, raw, IGTL_HEADER_SIZE);
    igtl_header_convert_byte_order(&h);
    unsigned char *body = malloc(h.body_size + 1);
    if (fread(body, 1, h.body_size, f) != h.body_size) { free(body); break; }
    char type[IGTL_HEADER_TYPE_SIZE + 1] = {0}, device[IGTL_HEADER_NAME_SIZE + 1] = {0};
    memcpy(type, h.name, IGTL_HEADER_TYPE_SIZE);
    memcpy(device, h.device_name, IGTL_HEADER_NAME_SIZE);
    igtl_uint32 seconds = (igtl_uint32)(h.timestamp >> 32);
    igtl_uint32 nanoseconds = igtl_frac_to_nanosec((igtl_uint32)(h.timestamp & 0xFFFFFFFF));
    const char *crc = crc64(body, h.body_size, 0LL) == h.crc ? "ok" : "bad";
    printf("%d\t%s\t%s\t%u.%09u\t%s\t", version, type, device, seconds, nanoseconds, crc);
    if (strcmp(type, "IMAGE") == 0) {
      igtl_image_header *im = (igtl_image_header *)body;
      igtl_image_convert_byte_order(im);
      printf("%d,%d,%d,%d,%d", im->size[0], im->size[1], im->size[2], im->scalar_type, im->num_components);
    } else if (strcmp(type, "LBMETA") == 0) {
      int n = igtl_lbmeta_get_data_n(h.body_size);
      igtl_lbmeta_element *e = (igtl_lbmeta_element *)body;
      igtl_lbmeta_convert_byte_order(e, n);
      for (int i = 0; i < n; i++)
        printf("%s%.64s,%.20s,%d,%d,%d,%d,%d,%d,%d,%d", i ? ";" : "", e[i].name, e[i].device_name, e[i].label,
               e[i].rgba[0], e[i].rgba[1], e[i].rgba[2], e[i].rgba[3], e[i].size[0], e[i].size[1], e[i].size[2]);
    } else if (strcmp(type, "STRING") == 0) {
      igtl_string_header *s = (igtl_string_header *)body;
      igtl_string_convert_byte_order(s);
      printf("%.*s", (int)s->length, (char *)(body + IGTL_STRING_HEADER_SIZE));
    }
    printf("\n");
    free(body);
  }
  return 0;
}
