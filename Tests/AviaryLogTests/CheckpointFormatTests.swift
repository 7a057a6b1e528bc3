import Testing
@testable import AviaryLog

/// The one owner of checkpoint names and metadata, and its `format` check on read.
@Suite struct CheckpointFormatTests {
    @Test func namesAndMetadataComeFromOnePlace() {
        let dir = RunDirectory(path: "runs/x")
        #expect(RunDirectory.checkpointPath(round: 7) == "checkpoints/round-0007.safetensors")
        #expect(dir.checkpoint(round: 7) == "runs/x/checkpoints/round-0007.safetensors")
        #expect(dir.mergedCheckpoint(round: 7) == "runs/x/checkpoints/merged-round-0007.safetensors")
        #expect(RunDirectory.checkpointMetadata(run: "x", round: 7, model: "mlp")["format"] == RunDirectory.checkpointFormat)
        #expect(RunDirectory.mergedCheckpointMetadata(run: "x", rounds: [6, 7])["merged_rounds"] == "6,7")
    }

    @Test func aCheckpointOfAnotherFormatIsRefusedOnRead() throws {
        try RunDirectory.checkCheckpointFormat(["format": "aviary-checkpoint-v1"], path: "a")
        try RunDirectory.checkCheckpointFormat([:], path: "torch.safetensors")  // foreign files carry no tag
        #expect(throws: RunFileError.mismatch(path: "s", reason: "its format tag is 'aviary-run-state-v1', not an Aviary model checkpoint ('aviary-checkpoint-v1'); it is a run state's vectors file, use checkpoints/round-NNNN.safetensors")) {
            try RunDirectory.checkCheckpointFormat(["format": "aviary-run-state-v1"], path: "s")
        }
        #expect(throws: RunFileError.self) { try RunDirectory.checkCheckpointFormat(["format": "aviary-checkpoint-v2"], path: "b") }
    }
}
