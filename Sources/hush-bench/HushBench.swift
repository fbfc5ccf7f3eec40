@main
struct HushBench {
    static func main() async throws {}
}
