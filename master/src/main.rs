fn main() -> std::process::ExitCode {
    bbchain::cli::main()
}
