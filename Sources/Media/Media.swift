// Media: video/image decoding and encoding (FFmpeg, TurboJPEG, libpng) and the
// built-in synthetic video data set.
//
// - `VideoReader` / `VideoClip`: selective, seek-based frame decoding to RGB24.
// - `VideoWriter`, `GIFWriter`: encoding RGB frames to mp4/mkv/avi/webm and animated GIF.
// - `Image`: JPEG/PNG load and save.
// - `SyntheticVideos`: deterministic labelled clips of moving shapes.
// - `MediaError`: every failure names the file it concerns.
