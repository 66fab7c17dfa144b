import Distributed
import Testing

struct DistEnvironmentTests {
    @Test func torchrunVariables() throws {
        let e = try DistEnvironment.detect([
            "RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
            "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234"
        ])
        #expect(
            e
                == DistEnvironment(
                    source: .torchrun, rank: 3, worldSize: 4, localRank: 1, localWorldSize: 2,
                    masterAddr: "10.0.0.1", masterPort: 1234))
        #expect(e.isDistributed)
    }

    @Test func slurmVariables() throws {
        let e = try DistEnvironment.detect([
            "SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
            "SLURM_NTASKS_PER_NODE": "4(x2)", "SLURM_LAUNCH_NODE_IPADDR": "10.1.2.3"
        ])
        #expect(
            e
                == DistEnvironment(
                    source: .slurm, rank: 5, worldSize: 8, localRank: 1, localWorldSize: 4,
                    masterAddr: "10.1.2.3", masterPort: 29500))
        // torchrun's variables win over Slurm's (torchrun inside an allocation).
        let t = try DistEnvironment.detect([
            "SLURM_PROCID": "5", "SLURM_NTASKS": "8", "RANK": "0", "WORLD_SIZE": "2",
            "MASTER_ADDR": "h", "SLURM_LAUNCH_NODE_IPADDR": "x"
        ])
        #expect(t.source == .torchrun && t.worldSize == 2)
    }

    @Test func singleProcessWithoutVariables() throws {
        let e = try DistEnvironment.detect([:])
        #expect(e.source == .single && e.worldSize == 1 && !e.isDistributed)
    }

    @Test func badValuesNameTheVariable() {
        func message(_ env: [String: String]) -> String {
            do { _ = try DistEnvironment.detect(env); return "" } catch { return "\(error)" }
        }
        #expect(message(["RANK": "x", "WORLD_SIZE": "2", "MASTER_ADDR": "h"]).contains("RANK=x"))
        #expect(message(["RANK": "0", "WORLD_SIZE": "2"]).contains("MASTER_ADDR"))
        #expect(message(["RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h"]).contains("rank 2 outside 0..<2"))
        #expect(
            message(["RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "70000"]).contains(
                "MASTER_PORT=70000"))
        #expect(message(["SLURM_PROCID": "0", "SLURM_NTASKS": "2"]).contains("MASTER_ADDR"))
    }
}
