import Models

/// The size flags every video ViT here needs consistent: the width splits into heads, the clip into patches.
/// Errors name the flags (`--embed_dim`, `--num_heads`, `--img_size`, `--num_frames`, `--patch_size`,
/// `--t_patch_size`).
func checkModelSizes(embedDim: Int, numHeads: Int, imgSize: Int, patchSize: Int, numFrames: Int, tPatchSize: Int) throws
{
    guard numHeads > 0, embedDim % numHeads == 0 else {
        throw ConfigError("--embed_dim \(embedDim) is not divisible by --num_heads \(numHeads)")
    }
    guard patchSize > 0, tPatchSize > 0, imgSize % patchSize == 0, numFrames % tPatchSize == 0 else {
        throw ConfigError(
            "--img_size \(imgSize) / --num_frames \(numFrames) must be multiples of the patch size \(patchSize) "
                + "/ --t_patch_size \(tPatchSize)"
        )
    }
}
