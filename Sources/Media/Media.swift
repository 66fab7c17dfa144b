// Media: video/image decoding and encoding (FFmpeg, TurboJPEG, libpng).
import CFFmpeg
import CTurboJPEG
import CPNG
