import Models

extension EvalResult {
    /// mae_st `--dist_eval`: the result over every rank's shard of the validation videos, from this rank's counts
    /// (videos, top-1/top-5 hits, confusion matrix, loss sum and count) summed over ranks by `sum` (one all-reduce).
    /// Exact: the counts are integers and every video is in one shard. `views` stays this rank's.
    func summed(
        lossSum: Double, lossCount: Int, _ sum: ([Double]) throws -> [Double]
    ) throws -> (EvalResult, lossSum: Double, lossCount: Int) {
        let mine = [Double(count), Double(correct1), Double(correct5), lossSum, Double(lossCount)]
        let all = try sum(mine + confusion.joined().map(Double.init))
        let n = confusion.count
        guard all.count == mine.count + n * n else { throw ConfigError("--dist_eval: ranks disagree on the classes") }
        var r = self
        (r.count, r.correct1, r.correct5) = (Int(all[0]), Int(all[1]), Int(all[2]))
        r.confusion = (0 ..< n).map { i in (0 ..< n).map { j in Int(all[mine.count + i * n + j]) } }
        return (r, all[3], Int(all[4]))
    }
}
