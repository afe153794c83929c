fn main() {
    println!("tollgate: under construction");
}
