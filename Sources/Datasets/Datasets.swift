// Datasets: video file lists, clip sampling, augmentation and the threaded loader.
import Media
