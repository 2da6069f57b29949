fn main() -> std::process::ExitCode {
    pcosync::cli::main()
}
