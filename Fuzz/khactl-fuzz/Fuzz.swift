// libFuzzer targets for khactl's parsers of untrusted input, in one binary; the target is chosen by
// KHACTL_FUZZ_TARGET. Built and run by Scripts/fuzz.sh (Swift's -sanitize=fuzzer,address), never by the normal
// build: Package.swift declares this target only when KHACTL_FUZZ is set.
//
//   spec-yaml   the spec loader on YAML text (SpecFile.parse, then the deployment sections)
//   spec-json   the same loader on JSON text (JSON is read as YAML)
//   cib         the CIB parser (CIBParser.parse)
//   crm-mon     the crm_mon XML reader (ClusterStatus)
//   alert       the alert datagram decoder (PacemakerAlert.decode)
import Foundation
import KhactlCore

nonisolated(unsafe) var target = ""

/// libFuzzer's entry for programs that keep their own main (LLVM 11+).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// SwiftPM links an executable's `main` to `<module>_main`; this one hands over to libFuzzer's driver.
@_cdecl("khactl_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { data, size in fuzz(data ?? UnsafePointer(bitPattern: 1)!, size) }
}

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    target = ProcessInfo.processInfo.environment["KHACTL_FUZZ_TARGET"] ?? ""
    guard ParserFuzzing.targets.contains(target) else {
        FileHandle.standardError.write(Data("set KHACTL_FUZZ_TARGET to one of \(ParserFuzzing.targets.joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    ParserFuzzing.run(target, Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}
