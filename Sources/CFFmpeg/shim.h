#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/display.h>
#include <math.h>

/// The clockwise rotation (0, 90, 180 or 270 degrees) a stream's display matrix asks players to apply, as ffmpeg's
/// autorotate reads it (phone videos: coded landscape, shown portrait). 0 without a matrix.
static inline int stmae_stream_rotation(const AVStream *st) {
    const int32_t *m = NULL;
#if LIBAVCODEC_VERSION_INT >= AV_VERSION_INT(60, 31, 100)
    const AVPacketSideData *sd = av_packet_side_data_get(st->codecpar->coded_side_data,
                                                          st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX);
    if (sd && sd->size >= 9 * sizeof(int32_t)) m = (const int32_t *)sd->data;
#else
    size_t size = 0;
    const uint8_t *data = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (data && size >= 9 * sizeof(int32_t)) m = (const int32_t *)data;
#endif
    if (!m) return 0;
    double theta = -av_display_rotation_get(m);  // counter-clockwise → clockwise
    if (isnan(theta)) return 0;
    long quarter = lround(theta / 90.0) % 4;
    return (int)((quarter + 4) % 4) * 90;
}
