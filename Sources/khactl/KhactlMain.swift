import KhactlCore

/// The executable's entry point; every command lives in KhactlCore.
@main
struct KhactlMain {
    static func main() async {
        await Khactl.main()
    }
}
