fn main() {
    eprintln!("bbchain: the command line is being built");
    std::process::exit(1);
}
